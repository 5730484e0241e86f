// What the nurse's screens ask of the workstation: census, patients, forms, entries and their lifecycle, drafts,
// and the DOWNTIME banner's status. Every method rejects with a BackendError.
import type { BackupInfo } from './generated/BackupInfo';
import type { Census } from './generated/Census';
import type { CheckResult } from './generated/CheckResult';
import type { DowntimeStatus } from './generated/DowntimeStatus';
import type { DraftInfo } from './generated/DraftInfo';
import type { DraftSaved } from './generated/DraftSaved';
import type { EntryDetail } from './generated/EntryDetail';
import type { EntryRequest } from './generated/EntryRequest';
import type { EntrySaved } from './generated/EntrySaved';
import type { EntrySummary } from './generated/EntrySummary';
import type { FormInfo } from './generated/FormInfo';
import type { HandedOver } from './generated/HandedOver';
import type { HandoverSheet } from './generated/HandoverSheet';
import type { PatientInfo } from './generated/PatientInfo';
import type { Registration } from './generated/Registration';

export type {
  BackupInfo,
  Census,
  CheckResult,
  DowntimeStatus,
  DraftInfo,
  DraftSaved,
  EntryDetail,
  EntryRequest,
  EntrySaved,
  EntrySummary,
  FormInfo,
  HandedOver,
  HandoverSheet,
  PatientInfo,
  Registration,
};

export interface NurseApi {
  /** The unit's patients (census and downtime registrations) and the snapshot's time. */
  census(): Promise<Census>;
  /** A patient by MRN, typed or scanned; `not_found` when no patient has it. Audited as a view. */
  findPatient(mrn: string): Promise<PatientInfo>;
  /** Registers a patient who is not in the census; the core issues a temporary MRN from the site's block. */
  registerPatient(registration: Registration): Promise<PatientInfo>;
  /** The loaded forms, each with its Questionnaire for the renderer. */
  forms(): Promise<FormInfo[]>;
  /** One patient's entries, newest first. */
  patientEntries(mrn: string): Promise<EntrySummary[]>;
  /** One entry with every version. */
  entry(id: string): Promise<EntryDetail>;
  /**
   * Validation findings by linkId and the safety warnings (allergy, duplicate), without saving. `entryId` is the
   * entry being edited or amended: it is never flagged as a duplicate of itself.
   */
  checkEntry(request: EntryRequest, entryId?: string | null): Promise<CheckResult>;
  /** Saves a new entry; resolves only once the core reports it durable, with the time it was stored. */
  saveEntry(request: EntryRequest): Promise<EntrySaved>;
  /** Replaces the content of one of the user's unsigned entries. */
  updateEntry(id: string, request: EntryRequest): Promise<EntrySaved>;
  signEntry(id: string, confirmNotDuplicate: boolean): Promise<EntrySaved>;
  /** A new signed version of a signed entry; the old one is kept. */
  amendEntry(id: string, request: EntryRequest): Promise<EntrySaved>;
  enterInError(id: string, reason: string): Promise<EntrySaved>;
  /** Saves (creates, or replaces when `id` is given) an encrypted draft of the signed-in user. */
  saveDraft(id: string | null, body: unknown): Promise<DraftSaved>;
  /** The signed-in user's own drafts; never another user's. */
  myDrafts(): Promise<DraftInfo[]>;
  discardDraft(id: string): Promise<void>;
  /** What the DOWNTIME banner shows, and the idle timeout. */
  downtimeStatus(): Promise<DowntimeStatus>;
  /**
   * The patient's shift handover sheet: last vitals, doses given since the last handover and due in the next 12
   * hours, notes since the last handover, unsigned entries. Audited as a view.
   */
  handover(mrn: string): Promise<HandoverSheet>;
  /** Records that the signed-in nurse handed the patient over now: the next sheet counts from here. */
  recordHandover(mrn: string): Promise<HandedOver>;
}
