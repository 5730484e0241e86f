// The Backend that calls the Rust shell's commands over Tauri IPC; the only file that calls invoke().
import { invoke } from '@tauri-apps/api/core';
import { toBackendError, type Backend } from './index';
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
}
