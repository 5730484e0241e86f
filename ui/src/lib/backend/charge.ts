// The charge nurse's part of the Backend: the episode (declare, severity, checklist, status updates, incident roles,
// the decision log, timeline, end), the print centre, break-glass accounts, and the handoff file for HIM with the unsigned entries it leaves behind. `episodeStatus()` is also what the banner of every workstation reads:
// its `drill`, `severity`, `overdueCount` and `updateOverdue` fields are safe to show to any signed-in role.
import type { ChecklistStep } from './generated/ChecklistStep';
import type { ContactCall } from './generated/ContactCall';
import type { EscalationContact } from './generated/EscalationContact';
import type { EscalationLevel } from './generated/EscalationLevel';
import type { EscalationStatus } from './generated/EscalationStatus';
import type { LevelStatus } from './generated/LevelStatus';
import type { Decision } from './generated/Decision';
import type { ResponseTargetCheck } from './generated/ResponseTargetCheck';
import type { DeclareEpisodeRequest } from './generated/DeclareEpisodeRequest';
import type { EmergencyUserCreated } from './generated/EmergencyUserCreated';
import type { EmergencyUserRequest } from './generated/EmergencyUserRequest';
import type { EntryChoice } from './generated/EntryChoice';
import type { EpisodeOptions } from './generated/EpisodeOptions';
import type { EpisodeStatus } from './generated/EpisodeStatus';
import type { EpisodeSummary } from './generated/EpisodeSummary';
import type { EpisodeTimeline } from './generated/EpisodeTimeline';
import type { EpisodeReview } from './generated/EpisodeReview';
import type { ReviewRequest } from './generated/ReviewRequest';
import type { WrittenReview } from './generated/WrittenReview';
import type { FormChoice } from './generated/FormChoice';
import type { HandoffExportRequest } from './generated/HandoffExportRequest';
import type { HandoffExported } from './generated/HandoffExported';
import type { HandoffInfo } from './generated/HandoffInfo';
import type { IncidentRole } from './generated/IncidentRole';
import type { PatientChoice } from './generated/PatientChoice';
import type { PrintCentreInfo } from './generated/PrintCentreInfo';
import type { PrintJob } from './generated/PrintJob';
import type { PrintProgress } from './generated/PrintProgress';
import type { PrintRequest } from './generated/PrintRequest';
import type { RoleAssignment } from './generated/RoleAssignment';
import type { RoleHolder } from './generated/RoleHolder';
import type { SavedPdf } from './generated/SavedPdf';
import type { Severity } from './generated/Severity';
import type { SeverityOption } from './generated/SeverityOption';
import type { StatusUpdate } from './generated/StatusUpdate';
import type { UnsignedEntry } from './generated/UnsignedEntry';
import type { UserCount } from './generated/UserCount';

export type {
  ChecklistStep,
  ContactCall,
  EscalationContact,
  EscalationLevel,
  EscalationStatus,
  LevelStatus,
  Decision,
  ResponseTargetCheck,
  DeclareEpisodeRequest,
  EmergencyUserCreated,
  EmergencyUserRequest,
  EntryChoice,
  EpisodeOptions,
  EpisodeStatus,
  EpisodeSummary,
  EpisodeTimeline,
  EpisodeReview,
  ReviewRequest,
  WrittenReview,
  FormChoice,
  HandoffExportRequest,
  HandoffExported,
  HandoffInfo,
  IncidentRole,
  PatientChoice,
  PrintCentreInfo,
  PrintJob,
  PrintProgress,
  PrintRequest,
  RoleAssignment,
  RoleHolder,
  SavedPdf,
  Severity,
  SeverityOption,
  StatusUpdate,
  UnsignedEntry,
  UserCount,
};

export interface ChargeApi {
  /** The open episode, or null. Any signed-in clinical role may ask (the banner does). */
  episodeStatus(): Promise<EpisodeStatus | null>;
  /** The severity scale with its meanings, and the usual affected systems. */
  episodeOptions(): Promise<EpisodeOptions>;
  declareEpisode(request: DeclareEpisodeRequest): Promise<EpisodeStatus | null>;
  /** Audited; the banner shows the new level. */
  changeSeverity(severity: Severity, note: string | null): Promise<EpisodeStatus | null>;
  endEpisode(): Promise<EpisodeSummary>;
  /** Ticks a checklist step (who and when are recorded). */
  tickStep(step: string, note: string | null): Promise<EpisodeStatus | null>;
  /** Takes back a tick; the reason is kept. */
  untickStep(step: string, reason: string): Promise<EpisodeStatus | null>;
  /** A plain-language update drafted by the core from the episode's data. */
  draftStatusUpdate(): Promise<string>;
  saveStatusUpdate(text: string, nextUpdateMinutes: number | null): Promise<EpisodeStatus | null>;
  /**
   * Records a decision with the open episode (who and when are recorded; audited, handed off to HIM). Refused with
   * `invalid_input` when empty, longer than 500 characters or on several lines. Never edited or deleted.
   */
  recordDecision(text: string): Promise<EpisodeStatus | null>;
  /** Names the incident commander or the clinical liaison (a later name replaces the earlier one; both are kept). */
  assignRole(role: IncidentRole, name: string): Promise<EpisodeStatus | null>;
  episodeTimeline(): Promise<EpisodeTimeline>;
  /** Every episode of this workstation, newest first (open or ended, real or drill), each with its review. */
  episodeReviews(): Promise<EpisodeReview[]>;
  /**
   * Keeps a new version of an episode's review: the clinical impact and the follow-up actions (one line each).
   * Refused with `invalid_input` when empty, too long, or an action runs over several lines; never repeats the text.
   */
  saveReview(request: ReviewRequest): Promise<EpisodeReview>;
  printCentreInfo(): Promise<PrintCentreInfo>;
  printableEntries(mrn: string): Promise<EntryChoice[]>;
  /** Prints into PDFs in `request.folder`; `onProgress` hears about each patient (or entry) of a batch. */
  printDocument(request: PrintRequest, onProgress: (progress: PrintProgress) => void): Promise<SavedPdf[]>;
  /** Opens a saved PDF in the system viewer. */
  openPdf(path: string): Promise<void>;
  /** Sends a saved PDF to the default printer (CUPS `lp`); resolves with what `lp` said. */
  printPdf(path: string): Promise<string>;
  /** Creates a break-glass nurse account; the one-time password is in the answer, to show once. */
  addEmergencyUser(request: EmergencyUserRequest): Promise<EmergencyUserCreated>;
  /** The handoff file's default folder and the episode's unsigned entries (author, form, age; no patient). */
  handoffInfo(): Promise<HandoffInfo>;
  /**
   * Writes the handoff file for HIM. Refused with `unsigned_entries` while entries are unsigned, unless
   * `includeUnsigned` carries the charge nurse's confirmation (kept in the audit log).
   */
  exportHandoff(request: HandoffExportRequest): Promise<HandoffExported>;
  /**
   * The site's escalation ladder and contacts (issue 21 item 1) with, in an open episode, who to call now and the
   * next escalation due; no file configured, or the file's problems, are said plainly. Any clinical role may look.
   */
  escalationStatus(): Promise<EscalationStatus>;
  /** Records a call to a contact of the ladder (by its id), or with `acknowledged` their answer (charge nurse). */
  recordContact(contact: string, acknowledged: boolean): Promise<EscalationStatus>;
}
