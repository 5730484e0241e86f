// The Backend that calls the Rust shell's commands over Tauri IPC; the only file that calls invoke().
//
// Command names, argument names and types, and answers are checked by tsc against generated/commands.ts, which Rust
// renders from the command list in src-tauri/src/lib.rs: a renamed or changed command fails `ui:check`.
import { Channel, invoke, type InvokeArgs } from '@tauri-apps/api/core';
import { toBackendError, type Backend } from './index';
import type * as Admin from './admin';
import type * as Charge from './charge';
import type * as Scenario from './scenario';
import type * as Unit from './unit';
import type { AppStatus } from './generated/AppStatus';
import type { CommandArgs, CommandName, CommandResults } from './generated/commands';
import type { SessionInfo } from './generated/SessionInfo';
import type { SetupRequest } from './generated/SetupRequest';
import type { SetupResult } from './generated/SetupResult';
import type { SignInRequest } from './generated/SignInRequest';
import type { ChangePasswordRequest } from './generated/ChangePasswordRequest';
import type * as Him from './him';
import type { MarView, UnitOverdue } from './mar';
import type {
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
} from './nurse';

/** The arguments `call` takes for a command: none when the command takes none, else its argument object. */
type ArgsOf<C extends CommandName> = CommandArgs[C] extends null ? [] : [args: CommandArgs[C]];

/** Invokes a command and converts its `{ code, message }` rejection into a BackendError. */
async function call<C extends CommandName>(command: C, ...args: ArgsOf<C>): Promise<CommandResults[C]> {
  try {
    // A command without arguments is invoked without an argument object, as Tauri's own examples do.
    const [payload] = args as unknown[];
    return await invoke<CommandResults[C]>(command, payload as InvokeArgs | undefined);
  } catch (error) {
    throw toBackendError(error);
  }
}

export class TauriBackend implements Backend {
  status(): Promise<AppStatus> {
    return call('app_status');
  }

  startupPainted(): Promise<void> {
    return call('startup_painted');
  }

  setUp(request: SetupRequest): Promise<SetupResult> {
    return call('set_up', { request });
  }

  signIn(request: SignInRequest): Promise<SessionInfo> {
    return call('sign_in', { request });
  }

  currentSession(): Promise<SessionInfo | null> {
    return call('current_session');
  }

  signOut(): Promise<void> {
    return call('sign_out');
  }

  passwordRules(): Promise<string> {
    return call('password_rules');
  }

  changePassword(request: ChangePasswordRequest): Promise<SessionInfo> {
    return call('change_password', { request });
  }

  keepAlive(): Promise<void> {
    return call('keep_alive');
  }

  // HIM desk.
  himKeygen(): Promise<Him.HimKey> {
    return call('him_keygen');
  }

  himImportFolder(): Promise<Him.HandoffFolder> {
    return call('him_import_folder');
  }

  himImportFiles(paths: string[]): Promise<Him.HandoffImportOutcome[]> {
    return call('him_import_files', { paths });
  }

  himImportShare(path: string): Promise<Him.ShareImportResult> {
    return call('him_import_share', { path });
  }

  himWorklist(query: Him.WorklistQuery): Promise<Him.WorklistPage> {
    return call('him_worklist', { query });
  }

  himSummary(): Promise<Him.ReconSummary> {
    return call('him_summary');
  }

  himMatch(entryId: string, mrn: string): Promise<string[]> {
    return call('him_match', { entryId, mrn });
  }

  himAccept(entryIds: string[]): Promise<number> {
    return call('him_accept', { entryIds });
  }

  himAcceptAllMatched(): Promise<number> {
    return call('him_accept_all_matched');
  }

  himReject(entryId: string, reason: string): Promise<void> {
    return call('him_reject', { entryId, reason });
  }

  himNeedsCorrection(entryId: string, reason: string): Promise<void> {
    return call('him_needs_correction', { entryId, reason });
  }

  himRepost(entryIds: string[], note: string | null): Promise<number> {
    return call('him_repost', { entryIds, note });
  }

  himEnteredByHand(entryId: string, by: string, at: string, place: string): Promise<void> {
    return call('him_entered_by_hand', { entryId, by, at, place });
  }

  himMarkDuplicate(entryId: string, of: string): Promise<void> {
    return call('him_mark_duplicate', { entryId, of });
  }

  himDismissDuplicate(entryId: string, other: string, reason: string): Promise<void> {
    return call('him_dismiss_duplicate', { entryId, other, reason });
  }

  himDuplicateProposals(): Promise<Him.DuplicateProposal[]> {
    return call('him_duplicate_proposals');
  }

  himSideBySide(a: string, b: string): Promise<Him.SideBySide> {
    return call('him_side_by_side', { a, b });
  }

  himReadScan(path: string): Promise<Him.PaperScan> {
    return call('him_read_scan', { path });
  }

  himEpisodes(): Promise<Him.PaperEpisode[]> {
    return call('him_episodes');
  }

  himBackEnter(request: Him.PaperEntryRequest): Promise<Him.PaperEntryOutcome> {
    return call('him_back_enter', { request });
  }

  himExportFhir(path: string): Promise<Him.FhirBatch> {
    return call('him_export_fhir', { path });
  }

  himLatestBatch(): Promise<string | null> {
    return call('him_latest_batch');
  }

  himFhirServers(): Promise<string[]> {
    return call('him_fhir_servers');
  }

  himPostFhir(batchId: string, server: string, token: string | null): Promise<Him.FhirPostReport> {
    return call('him_post_fhir', { batchId, server, token });
  }

  himPostProgress(): Promise<Him.FhirPostProgress> {
    return call('him_post_progress');
  }

  himVerifyFhir(batchId: string, token: string | null): Promise<Him.FhirReadback> {
    return call('him_verify_fhir', { batchId, token });
  }

  himReportCsv(path: string): Promise<Him.FileWritten> {
    return call('him_report_csv', { path });
  }

  himReportPdf(path: string): Promise<Him.FileWritten> {
    return call('him_report_pdf', { path });
  }

  // The nurse's path (commands/nurse.rs).

  census(): Promise<Census> {
    return call('census');
  }

  findPatient(mrn: string): Promise<PatientInfo> {
    return call('find_patient', { mrn });
  }

  registerPatient(request: Registration): Promise<PatientInfo> {
    return call('register_patient', { request });
  }

  forms(): Promise<FormInfo[]> {
    return call('forms');
  }

  patientEntries(mrn: string): Promise<EntrySummary[]> {
    return call('patient_entries', { mrn });
  }

  patientMar(mrn: string): Promise<MarView> {
    return call('patient_mar', { mrn });
  }

  unitOverdue(): Promise<UnitOverdue> {
    return call('unit_overdue');
  }

  entry(id: string): Promise<EntryDetail> {
    return call('entry', { id });
  }

  checkEntry(request: EntryRequest, entryId: string | null = null): Promise<CheckResult> {
    return call('check_entry', { request, entryId });
  }

  saveEntry(request: EntryRequest): Promise<EntrySaved> {
    return call('save_entry', { request });
  }

  updateEntry(id: string, request: EntryRequest): Promise<EntrySaved> {
    return call('update_entry', { id, request });
  }

  signEntry(id: string, confirmNotDuplicate: boolean): Promise<EntrySaved> {
    return call('sign_entry', { id, confirmNotDuplicate });
  }

  amendEntry(id: string, request: EntryRequest): Promise<EntrySaved> {
    return call('amend_entry', { id, request });
  }

  enterInError(id: string, reason: string): Promise<EntrySaved> {
    return call('enter_in_error', { id, reason });
  }

  saveDraft(id: string | null, body: unknown): Promise<DraftSaved> {
    return call('save_draft', { id, body });
  }

  myDrafts(): Promise<DraftInfo[]> {
    return call('my_drafts');
  }

  discardDraft(id: string): Promise<void> {
    return call('discard_draft', { id });
  }

  downtimeStatus(): Promise<DowntimeStatus> {
    return call('downtime_status');
  }

  handover(mrn: string): Promise<HandoverSheet> {
    return call('handover', { mrn });
  }

  recordHandover(mrn: string): Promise<HandedOver> {
    return call('record_handover', { mrn });
  }

  // The charge nurse's desk (commands in src-tauri/src/commands/charge.rs).
  episodeStatus(): Promise<Charge.EpisodeStatus | null> {
    return call('episode_status');
  }

  episodeOptions(): Promise<Charge.EpisodeOptions> {
    return call('episode_options');
  }

  declareEpisode(request: Charge.DeclareEpisodeRequest): Promise<Charge.EpisodeStatus | null> {
    return call('declare_episode', { request });
  }

  changeSeverity(severity: Charge.Severity, note: string | null): Promise<Charge.EpisodeStatus | null> {
    return call('change_severity', { severity, note });
  }

  endEpisode(): Promise<Charge.EpisodeSummary> {
    return call('end_episode');
  }

  tickStep(step: string, note: string | null): Promise<Charge.EpisodeStatus | null> {
    return call('tick_step', { step, note });
  }

  untickStep(step: string, reason: string): Promise<Charge.EpisodeStatus | null> {
    return call('untick_step', { step, reason });
  }

  draftStatusUpdate(): Promise<string> {
    return call('draft_status_update');
  }

  saveStatusUpdate(text: string, nextUpdateMinutes: number | null): Promise<Charge.EpisodeStatus | null> {
    return call('save_status_update', { text, nextUpdateMinutes });
  }

  unitShare(): Promise<Unit.UnitShare> {
    return call('unit_share');
  }

  unitSync(): Promise<Unit.UnitSynced> {
    return call('unit_sync');
  }

  unitOverview(): Promise<Unit.UnitOverview> {
    return call('unit_overview');
  }

  drillScenarios(): Promise<Scenario.ScenarioOptions> {
    return call('drill_scenarios');
  }

  startScenarioDrill(file: string, nextUpdateMinutes: number | null): Promise<Charge.EpisodeStatus | null> {
    return call('start_scenario_drill', { file, nextUpdateMinutes });
  }

  drillScenario(): Promise<Scenario.DrillScenario | null> {
    return call('drill_scenario');
  }

  acknowledgeInject(number: number): Promise<Scenario.DrillScenario | null> {
    return call('acknowledge_inject', { number });
  }

  recordDecision(text: string): Promise<Charge.EpisodeStatus | null> {
    return call('record_decision', { text });
  }

  assignRole(role: Charge.IncidentRole, name: string): Promise<Charge.EpisodeStatus | null> {
    return call('assign_role', { role, name });
  }

  escalationStatus(): Promise<Charge.EscalationStatus> {
    return call('escalation_status');
  }

  recordContact(contact: string, acknowledged: boolean): Promise<Charge.EscalationStatus> {
    return call('record_contact', { contact, acknowledged });
  }

  episodeTimeline(): Promise<Charge.EpisodeTimeline> {
    return call('episode_timeline');
  }

  episodeReviews(): Promise<Charge.EpisodeReview[]> {
    return call('episode_reviews');
  }

  saveReview(request: Charge.ReviewRequest): Promise<Charge.EpisodeReview> {
    return call('save_review', { request });
  }

  printCentreInfo(): Promise<Charge.PrintCentreInfo> {
    return call('print_centre_info');
  }

  printableEntries(mrn: string): Promise<Charge.EntryChoice[]> {
    return call('printable_entries', { mrn });
  }

  printDocument(
    request: Charge.PrintRequest,
    onProgress: (progress: Charge.PrintProgress) => void,
  ): Promise<Charge.SavedPdf[]> {
    const channel = new Channel<Charge.PrintProgress>();
    channel.onmessage = onProgress;
    return call('print_document', { request, onProgress: channel });
  }

  openPdf(path: string): Promise<void> {
    return call('open_pdf', { path });
  }

  printPdf(path: string): Promise<string> {
    return call('print_pdf', { path });
  }

  addEmergencyUser(request: Charge.EmergencyUserRequest): Promise<Charge.EmergencyUserCreated> {
    return call('add_emergency_user', { request });
  }

  handoffInfo(): Promise<Charge.HandoffInfo> {
    return call('handoff_info');
  }

  exportHandoff(request: Charge.HandoffExportRequest): Promise<Charge.HandoffExported> {
    return call('export_handoff', { request });
  }

  // The administrator's desk (commands in src-tauri/src/commands/admin.rs and readiness.rs).
  adminUsers(): Promise<Admin.StaffAccount[]> {
    return call('admin_users');
  }

  adminAddUser(request: Admin.NewAccountRequest): Promise<Admin.OneTimePassword> {
    return call('admin_add_user', { request });
  }

  adminImportRoster(path: string): Promise<Admin.RosterImported> {
    return call('admin_import_roster', { path });
  }

  adminDisableUser(username: string): Promise<void> {
    return call('admin_disable_user', { username });
  }

  adminResetPassword(username: string): Promise<Admin.OneTimePassword> {
    return call('admin_reset_password', { username });
  }

  adminUnlockUser(username: string): Promise<void> {
    return call('admin_unlock_user', { username });
  }

  adminCensus(): Promise<Admin.CensusDesk> {
    return call('admin_census');
  }

  adminImportCensus(file: string): Promise<Admin.CensusImported> {
    return call('admin_import_census', { file });
  }

  adminFormsCheck(): Promise<Admin.FormsCheck> {
    return call('admin_forms_check');
  }

  adminVerify(): Promise<Admin.VerifyResult> {
    return call('admin_verify');
  }

  adminBackupStatus(): Promise<Admin.BackupStatus> {
    return call('admin_backup_status');
  }

  adminBackupNow(): Promise<Admin.BackupWritten> {
    return call('admin_backup_now');
  }

  readiness(): Promise<Admin.ReadinessReport> {
    return call('readiness');
  }
}
