// The Backend that calls the Rust shell's commands over Tauri IPC; the only file that calls invoke().
import { Channel, invoke } from '@tauri-apps/api/core';
import { toBackendError, type Backend } from './index';
import type * as Charge from './charge';
import type { AppStatus } from './generated/AppStatus';
import type { SessionInfo } from './generated/SessionInfo';
import type { SetupRequest } from './generated/SetupRequest';
import type { SetupResult } from './generated/SetupResult';
import type { SignInRequest } from './generated/SignInRequest';

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

  episodeTimeline(): Promise<Charge.EpisodeTimeline> {
    return call('episode_timeline');
  }

  printCentreInfo(): Promise<Charge.PrintCentreInfo> {
    return call('print_centre_info');
  }

  patientEntries(mrn: string): Promise<Charge.EntryChoice[]> {
    return call('patient_entries', { mrn });
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
}
