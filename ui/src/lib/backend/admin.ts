// The administrator's part of the Backend (issue 17 item 5): staff accounts (list, add with a one-time password,
// roster import from a path, disable, unlock, reset to a one-time password), the census (snapshot and the files of
// the site's `census_import_dir`), the forms check, `verify`, backups and the readiness report. The core checks the administrator's role on every one but `readiness`, which names no patient.
import type { BackupStatus } from './generated/BackupStatus';
import type { BackupWritten } from './generated/BackupWritten';
import type { CensusDesk } from './generated/CensusDesk';
import type { CensusFile } from './generated/CensusFile';
import type { CensusImported } from './generated/CensusImported';
import type { CensusSnapshot } from './generated/CensusSnapshot';
import type { FormsCheck } from './generated/FormsCheck';
import type { LoadedForm } from './generated/LoadedForm';
import type { NewAccountRequest } from './generated/NewAccountRequest';
import type { OneTimePassword } from './generated/OneTimePassword';
import type { ReadinessCheck } from './generated/ReadinessCheck';
import type { ReadinessLevel } from './generated/ReadinessLevel';
import type { ReadinessReport } from './generated/ReadinessReport';
import type { RefusedForm } from './generated/RefusedForm';
import type { RosterImported } from './generated/RosterImported';
import type { StaffAccount } from './generated/StaffAccount';
import type { VerifyProblem } from './generated/VerifyProblem';
import type { VerifyResult } from './generated/VerifyResult';

export type {
  BackupStatus,
  BackupWritten,
  CensusDesk,
  CensusFile,
  CensusImported,
  CensusSnapshot,
  FormsCheck,
  LoadedForm,
  NewAccountRequest,
  OneTimePassword,
  ReadinessCheck,
  ReadinessLevel,
  ReadinessReport,
  RefusedForm,
  RosterImported,
  StaffAccount,
  VerifyProblem,
  VerifyResult,
};

export interface AdminApi {
  /** Every staff account of this workstation. */
  adminUsers(): Promise<StaffAccount[]>;
  /** Adds an account; its one-time password is in the answer, to show once. */
  adminAddUser(request: NewAccountRequest): Promise<OneTimePassword>;
  /** Imports a roster CSV from a path on this workstation (as `dtk user import`): all or nothing. */
  adminImportRoster(path: string): Promise<RosterImported>;
  /** Disables an account; what it wrote stays attributed to it. */
  adminDisableUser(username: string): Promise<void>;
  /** Lifts the lock on an account locked after too many failed sign-ins; its own password opens it again. */
  adminUnlockUser(username: string): Promise<void>;
  /** Replaces an account's password with a one-time password, to show once. */
  adminResetPassword(username: string): Promise<OneTimePassword>;
  /** The current census snapshot (taken when, how old, how many patients) and the files of the census folder. */
  adminCensus(): Promise<CensusDesk>;
  /** Imports one file of the census folder, by name (as `dtk census import`); errors name the file. */
  adminImportCensus(file: string): Promise<CensusImported>;
  /** The forms this workstation loaded, and the files it refused with why. */
  adminFormsCheck(): Promise<FormsCheck>;
  /** Runs `verify` and records its result for readiness, as `dtk verify` does. */
  adminVerify(): Promise<VerifyResult>;
  adminBackupStatus(): Promise<BackupStatus>;
  /** A backup now into the site's `backup_dir`. */
  adminBackupNow(): Promise<BackupWritten>;
  /** Is this workstation ready for the next downtime (`dtk readiness`)? Needs no sign-in. */
  readiness(): Promise<ReadinessReport>;
}
