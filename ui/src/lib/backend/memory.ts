// An in-memory Backend for unit tests and the browser-served build: same contract and error codes, no storage.
//
// It is a test double, not a second core: it keeps users in a Map, compares passwords as plain strings and forgets
// everything on reload. It exists so screens can be exercised without the desktop app.
import { BackendError, type Backend } from './index';
import type { ChargeApi } from './charge';
import { MemoryCharge, type ChargeSeed } from './memory/charge';
import type { AppStatus } from './generated/AppStatus';
import type { Role } from './generated/Role';
import type { SessionInfo } from './generated/SessionInfo';
import type { SetupRequest } from './generated/SetupRequest';
import type { SetupResult } from './generated/SetupResult';
import type { SignInRequest } from './generated/SignInRequest';

interface MemoryUser {
  displayName: string;
  password: string;
  role: Role;
}

export interface MemorySeed {
  unit: string;
  users: Record<string, MemoryUser>;
  /** The charge nurse's area: episode, patients to print for, printer. */
  charge?: ChargeSeed;
  /** Signed in from the start (the gallery mounts screens without the sign-in screen). */
  signedIn?: string;
}

// Each area's methods live in its own class under memory/; the backend exposes them as its own (see the constructor).
export interface MemoryBackend extends ChargeApi {}

export class MemoryBackend implements Backend {
  private unit: string | null = null;
  private users = new Map<string, MemoryUser>();
  private session: SessionInfo | null = null;
  /** Whether the last set-up asked for the demo unit; tests read it to check the checkbox is passed through. */
  demoLoaded = false;
  /** Every call, in order, so tests can assert what the screens asked for (passwords are not recorded). */
  readonly calls: string[] = [];

  /** The charge nurse's area, for tests that set the clock or the printer. */
  readonly charge: MemoryCharge;

  constructor(seed?: MemorySeed) {
    if (seed) {
      this.unit = seed.unit;
      for (const [name, user] of Object.entries(seed.users)) this.users.set(name, user);
      const user = seed.signedIn ? this.users.get(seed.signedIn) : undefined;
      if (seed.signedIn && user) {
        this.session = { username: seed.signedIn, displayName: user.displayName, role: user.role, mustChangePassword: false };
      }
    }
    this.charge = new MemoryCharge(() => this.session, seed?.charge);
    delegate(this, this.charge);
  }

  async status(): Promise<AppStatus> {
    this.calls.push('status');
    return { initialised: this.unit !== null, unit: this.unit };
  }

  async setUp(request: SetupRequest): Promise<SetupResult> {
    this.calls.push('setUp');
    if (this.unit !== null) {
      throw new BackendError('already_initialised', 'This workstation already has a vault.');
    }
    for (const [field, value] of [
      ['unit', request.unit],
      ['admin', request.admin],
      ['display name', request.displayName],
      ['password', request.password],
    ] as const) {
      if (value.trim() === '') throw new BackendError('invalid_input', `The ${field} must not be empty.`);
    }
    this.unit = request.unit.trim();
    this.users.set(request.admin.trim(), {
      displayName: request.displayName.trim(),
      password: request.password,
      role: 'admin',
    });
    this.demoLoaded = request.loadDemo;
    return { recoveryKey: randomRecoveryKey(), demoLoaded: request.loadDemo, demoError: null };
  }

  async signIn(request: SignInRequest): Promise<SessionInfo> {
    this.calls.push('signIn');
    if (this.unit === null) throw new BackendError('not_initialised', 'This workstation has not been set up yet.');
    const user = this.users.get(request.username.trim());
    if (!user) throw new BackendError('unknown_user', 'No user with that username on this workstation.');
    if (user.password !== request.password) {
      throw new BackendError('bad_credentials', 'The username or password is not correct.');
    }
    this.session = {
      username: request.username.trim(),
      displayName: user.displayName,
      role: user.role,
      mustChangePassword: false,
    };
    return this.session;
  }

  async currentSession(): Promise<SessionInfo | null> {
    this.calls.push('currentSession');
    return this.session;
  }

  async signOut(): Promise<void> {
    this.calls.push('signOut');
    this.session = null;
  }
}

/** A key shaped like a real one (groups of base32), so the recovery screen lays out realistically. */
function randomRecoveryKey(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const chars = Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
  return chars.match(/.{4}/g)?.join('-') ?? chars;
}

/** Makes every method of `area` callable on `backend`, bound to `area`. */
function delegate(backend: object, area: object) {
  const proto = Object.getPrototypeOf(area) as object;
  for (const name of Object.getOwnPropertyNames(proto)) {
    const method = (area as Record<string, unknown>)[name];
    // A name the backend already has (its own status(), say) is never replaced by an area's helper.
    if (name !== 'constructor' && !(name in backend) && typeof method === 'function') {
      Object.defineProperty(backend, name, { value: method.bind(area), configurable: true, writable: true });
    }
  }
}
