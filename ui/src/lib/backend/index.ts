// The UI's only door to the outside: the Backend contract, its error type, and the choice of implementation.
//
// Only this folder imports @tauri-apps/*. Screens receive a Backend and never know whether it is the desktop
// app's Rust core (tauri.ts) or the in-memory double (memory.ts) used by unit tests and the browser build.
import type { AdminApi } from './admin';
export type * from './admin';
import type { ChargeApi } from './charge';
export type * from './charge';
import type { AppStatus } from './generated/AppStatus';
import type { ChangePasswordRequest } from './generated/ChangePasswordRequest';
import type { CommandError } from './generated/CommandError';
import type { ErrorCode } from './generated/ErrorCode';
import type { Role } from './generated/Role';
import type { SessionInfo } from './generated/SessionInfo';
import type { SetupRequest } from './generated/SetupRequest';
import type { SetupResult } from './generated/SetupResult';
import type { SignInRequest } from './generated/SignInRequest';
import type { HimApi } from './him';
import type { MarApi } from './mar';
export type * from './mar';
import type { NurseApi } from './nurse';
import type { ScenarioApi } from './scenario';
export type * from './scenario';
import type { UnitApi } from './unit';
export type * from './unit';

export type {
  AppStatus,
  CommandError,
  ErrorCode,
  Role,
  SessionInfo,
  SetupRequest,
  SetupResult,
  SignInRequest,
  ChangePasswordRequest,
};

/** Everything the screens may ask of the workstation. Every method rejects with a BackendError. */
export type * from './nurse';

export interface Backend extends NurseApi, HimApi, ChargeApi, AdminApi, MarApi, ScenarioApi, UnitApi {
  /** Whether this workstation has a vault yet, and its unit. */
  status(): Promise<AppStatus>;
  /**
   * The first screen (sign-in or set-up) has painted: the start-up benchmark's probe (scripts/bench-start.sh). The
   * app does nothing with it unless launched by the benchmark.
   */
  startupPainted(): Promise<void>;
  /** Creates the vault and its admin; resolves with the recovery key, which the UI shows once. */
  setUp(request: SetupRequest): Promise<SetupResult>;
  signIn(request: SignInRequest): Promise<SessionInfo>;
  /** The signed-in user, if any (after a reload of the web view the Rust side still knows). */
  currentSession(): Promise<SessionInfo | null>;
  signOut(): Promise<void>;
  /** The password rules the core applies ("At least 8 characters, …"), shown where a password is chosen. */
  passwordRules(): Promise<string>;
  /** Replaces the signed-in user's password; `current` is needed unless they signed in with a one-time password. */
  changePassword(request: ChangePasswordRequest): Promise<SessionInfo>;
  /** The person is using the app: the core's idle lock counts from now (rejects with `session_ended` after it). */
  keepAlive(): Promise<void>;
}

/** A failed backend call: the UI switches on `code`, and shows `message` only as a fallback. */
export class BackendError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'BackendError';
    this.code = code;
  }
}

// A Record, not a list, so that tsc fails here when Rust adds a code this file does not know.
const ERROR_CODES: Readonly<Record<ErrorCode, true>> = {
  not_initialised: true,
  already_initialised: true,
  bad_credentials: true,
  throttled: true,
  account_locked: true,
  forbidden: true,
  invalid_input: true,
  integrity: true,
  storage_full: true,
  read_only: true,
  io: true,
  too_new: true,
  not_found: true,
  conflict: true,
  must_change_password: true,
  safety_check: true,
  no_episode: true,
  unavailable: true,
  unsigned_entries: true,
  session_ended: true,
  not_signed_in: true,
  internal: true,
};

/** Whether a value rejected by IPC has the `{ code, message }` shape with a code this UI knows. */
export function isCommandError(value: unknown): value is CommandError {
  if (typeof value !== 'object' || value === null) return false;
  const { code, message } = value as Record<string, unknown>;
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code) && typeof message === 'string';
}

/** Turns anything a call rejected with into a BackendError, so screens handle one type. */
export function toBackendError(value: unknown): BackendError {
  if (value instanceof BackendError) return value;
  if (isCommandError(value)) return new BackendError(value.code, value.message);
  return new BackendError('internal', 'The app could not reach its storage. Restart Downtime Kit; if it happens again, call IT.');
}

/**
 * Picks the implementation at start-up: the Rust core inside the desktop app, the in-memory double in a plain
 * browser (used for accessibility tests and demos, never for charting).
 */
export async function selectBackend(): Promise<Backend> {
  const { isTauri } = await import('@tauri-apps/api/core');
  if (isTauri()) {
    const { TauriBackend } = await import('./tauri');
    return new TauriBackend();
  }
  const { MemoryBackend } = await import('./memory');
  return new MemoryBackend();
}
