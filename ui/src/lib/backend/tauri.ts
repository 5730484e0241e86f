// The Backend that calls the Rust shell's commands over Tauri IPC; the only file that calls invoke().
import { invoke } from '@tauri-apps/api/core';
import { toBackendError, type Backend } from './index';
import type { AppStatus } from './generated/AppStatus';
import type { SessionInfo } from './generated/SessionInfo';
import type { SetupRequest } from './generated/SetupRequest';
import type { SetupResult } from './generated/SetupResult';
import type { SignInRequest } from './generated/SignInRequest';
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
  PatientInfo,
  Registration,
} from './nurse';

/** Invokes a command and converts its `{ code, message }` rejection into a BackendError. */
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toBackendError(error);
  }
}

export class TauriBackend implements Backend {
  status(): Promise<AppStatus> {
    return call('app_status');
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

  entry(id: string): Promise<EntryDetail> {
    return call('entry', { id });
  }

  checkEntry(request: EntryRequest): Promise<CheckResult> {
    return call('check_entry', { request });
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
}
