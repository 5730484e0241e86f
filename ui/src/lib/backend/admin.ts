// The administrator's part of the Backend (issue 17 item 5): staff accounts (list, add with a one-time password,
// roster import from a path, disable, reset to a one-time password), the forms check, `verify`, backups and the
// readiness report. The core checks the administrator's role on every one but `readiness`, which names no patient.
import type { BackupStatus } from './generated/BackupStatus';
import type { BackupWritten } from './generated/BackupWritten';
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
  /** Replaces an account's password with a one-time password, to show once. */
  adminResetPassword(username: string): Promise<OneTimePassword>;
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
