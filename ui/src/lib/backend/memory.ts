// An in-memory Backend for unit tests and the browser-served build: same contract and error codes, no storage.
//
// It is a test double, not a second core: it keeps users in a Map, compares passwords as plain strings and forgets
// everything on reload. It exists so screens can be exercised without the desktop app.
import { BackendError, type Backend } from './index';
import type { NurseApi } from './nurse';
import type * as Him from './him';
import { HimMemory, seedHimState, type HimSeed } from './memory/him';
import type { PatientInfo } from './generated/PatientInfo';
import { emptyState, loadDemoUnit, LOCK_AFTER_FAILURES, parseCensus, type MemoryState, type MemoryUser } from './memory/state';
import { nurseApi } from './memory/nurse';
import { marApi } from './memory/mar';
import type { MarApi } from './mar';
import { handoverApi } from './memory/handover';
import type { AdminApi } from './admin';
import { adminApi, type AdminSeed } from './memory/admin';
import type { ChargeApi } from './charge';
import type { ScenarioApi } from './scenario';
import type { UnitApi } from './unit';
import { MemoryCharge, type ChargeSeed } from './memory/charge';
import { MemoryScenario, type ScenarioSeed } from './memory/scenario';
import { unitApi, type UnitSeed } from './memory/unit';
import type { AppStatus } from './generated/AppStatus';
import type { SessionInfo } from './generated/SessionInfo';
import type { SetupRequest } from './generated/SetupRequest';
import type { SetupResult } from './generated/SetupResult';
import type { SignInRequest } from './generated/SignInRequest';
import type { ChangePasswordRequest } from './generated/ChangePasswordRequest';

/** The core's rules (auth::password_rules and check_password), for the double. */
const MIN_PASSWORD_CHARS = 8;

export interface MemorySeed {
  unit: string;
  users: Record<string, MemoryUser>;
  /** Load the demo unit (census, forms, demo users, an open DRILL episode), as set-up's "demo unit" option does. */
  demo?: boolean;
  /** More patients for the census (tests: payloads in names, a patient with many allergies). */
  patients?: PatientInfo[];
  /** A census FHIR Bundle imported as the unit's census, replacing the demo's (the contract test's patients). */
  census?: Parameters<typeof parseCensus>[0];
  /** The vault opened read-only. */
  readOnly?: boolean;
  idleTimeoutSecs?: number;
  /** Signed in as this user from the start (the screen gallery mounts screens that need a session). */
  signedInAs?: string;
  /** The HIM worklist, import folder and scans (memory/him-seed.ts builds a realistic one). */
  him?: HimSeed;
  /** The charge nurse's area: episode, patients to print for, printer. */
  charge?: ChargeSeed;
  /** The same as `signedInAs` (the charge desk's tests and gallery use this name). */
  signedIn?: string;
  /** The administrator's desk: rosters on the "disk", refused forms, verify's findings, backups, readiness. */
  admin?: AdminSeed;
  /** Drill scenarios: the site's files, refused files, and the scenario a seeded drill runs. */
  scenario?: ScenarioSeed;
  /** The unit share: the banner's view, entries received from peers, and what a sync reports. */
  unitShare?: UnitSeed;
}

// Each area's commands live in memory/<area>.ts over the shared state; their methods are merged in here.
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface MemoryBackend extends NurseApi, ChargeApi, AdminApi, MarApi, ScenarioApi, UnitApi {}

export class MemoryBackend implements Backend {
  /** Everything the double holds; tests may read it or inject faults (`state.failWrites`). */
  readonly state: MemoryState = emptyState();
  /** Whether the last set-up asked for the demo unit; tests read it to check the checkbox is passed through. */
  demoLoaded = false;
  /** Every call, in order, so tests can assert what the screens asked for (passwords are not recorded). */
  readonly calls: string[] = [];
  /** The HIM desk's state; the him* methods below delegate to it. */
  readonly him: HimMemory;
  /** The charge nurse's area, for tests that set the clock or the printer. */
  readonly charge: MemoryCharge;
  /** Drill scenarios over the charge double. */
  readonly scenario: MemoryScenario;

  constructor(seed?: MemorySeed) {
    this.him = new HimMemory(this.calls, seed?.him, this.state);
    if (seed?.him) seedHimState(this.state, seed.him);
    if (seed) {
      this.state.unit = seed.unit;
      for (const [name, user] of Object.entries(seed.users)) this.state.users.set(name, user);
      if (seed.demo) loadDemoUnit(this.state);
      if (seed.census) {
        const census = parseCensus(seed.census);
        this.state.patients = census.patients;
        this.state.snapshotTime = census.snapshotTime;
        this.state.census = seed.census;
      }
      if (seed.patients) this.state.patients.push(...seed.patients);
      this.state.readOnly = seed.readOnly ?? false;
      this.state.idleTimeoutSecs = seed.idleTimeoutSecs ?? this.state.idleTimeoutSecs;
      const who = seed.signedInAs ?? seed.signedIn;
      const user = who ? this.state.users.get(who) : undefined;
      if (who && user) {
        this.state.session = {
          username: who,
          displayName: user.displayName,
          role: user.role,
          mustChangePassword: user.mustChange ?? false,
        };
      }
    }
    this.merge(nurseApi(this.state));
    this.merge(marApi(this.state));
    this.merge(handoverApi(this.state));
    this.merge(adminApi(this.state, seed?.admin));
    this.merge(unitApi(this.state, seed?.unitShare));
    this.charge = new MemoryCharge(() => this.state.session, seed?.charge, (e) => (this.state.episode = e));
    delegate(this, this.charge);
    this.scenario = new MemoryScenario(this.charge, () => this.state.session, seed?.scenario);
    delegate(this, this.scenario);
  }

  /** Adds an area's commands as methods, recording each call by name. */
  private merge(api: object): void {
    for (const [name, method] of Object.entries(api)) {
      if (typeof method !== 'function') continue;
      Object.defineProperty(this, name, {
        value: (...args: unknown[]) => {
          this.calls.push(name);
          return (method as (...a: unknown[]) => unknown)(...args);
        },
        // Tests replace single methods to inject failures, as they do with setUp.
        writable: true,
        configurable: true,
      });
    }
  }

  private get unit(): string | null {
    return this.state.unit;
  }

  private set unit(value: string | null) {
    this.state.unit = value;
  }

  private get users(): Map<string, MemoryUser> {
    return this.state.users;
  }

  private get session(): SessionInfo | null {
    return this.state.session;
  }

  private set session(value: SessionInfo | null) {
    this.state.session = value;
  }

  async status(): Promise<AppStatus> {
    this.calls.push('status');
    return { initialised: this.unit !== null, unit: this.unit };
  }

  async startupPainted(): Promise<void> {
    this.calls.push('startupPainted');
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
    if (request.loadDemo) loadDemoUnit(this.state);
    return { recoveryKey: randomRecoveryKey(), demoLoaded: request.loadDemo, demoError: null };
  }

  async signIn(request: SignInRequest): Promise<SessionInfo> {
    this.calls.push('signIn');
    if (this.unit === null) throw new BackendError('not_initialised', 'This workstation has not been set up yet.');
    const user = this.users.get(request.username.trim());
    // As the core: an unknown name reads exactly like a wrong password.
    if (!user) throw new BackendError('bad_credentials', 'The username or password is not correct.');
    // As the core (site setting `account_lockout` at its default): a locked account stays shut even to the right
    // password, and the failure that reaches the lock says so.
    const locked = () =>
      new BackendError(
        'account_locked',
        `the account '${request.username.trim()}' is locked after ${LOCK_AFTER_FAILURES} failed sign-ins; ask a charge nurse or an administrator to unlock it`,
      );
    if ((user.failedSignIns ?? 0) >= LOCK_AFTER_FAILURES) throw locked();
    if (user.password !== request.password || user.disabled) {
      // A disabled account has no key wrap in the core: refused before any password is tried, so nothing is counted.
      if (!user.disabled) user.failedSignIns = (user.failedSignIns ?? 0) + 1;
      if ((user.failedSignIns ?? 0) >= LOCK_AFTER_FAILURES) throw locked();
      throw new BackendError('bad_credentials', 'The username or password is not correct.');
    }
    user.failedSignIns = 0;
    this.state.lastSave = null;
    this.session = {
      username: request.username.trim(),
      displayName: user.displayName,
      role: user.role,
      mustChangePassword: user.mustChange ?? false,
    };
    return this.session;
  }

  async currentSession(): Promise<SessionInfo | null> {
    this.calls.push('currentSession');
    return this.session;
  }

  async passwordRules(): Promise<string> {
    this.calls.push('passwordRules');
    return `At least ${MIN_PASSWORD_CHARS} characters, and not your username.`;
  }

  async changePassword(request: ChangePasswordRequest): Promise<SessionInfo> {
    this.calls.push('changePassword');
    const session = this.session;
    const user = session ? this.users.get(session.username) : undefined;
    if (!session || !user) throw new BackendError('not_signed_in', 'Nobody is signed in on this workstation.');
    if (!session.mustChangePassword) {
      if (!request.current) throw new BackendError('invalid_input', 'Type your current password first.');
      if (request.current !== user.password) {
        throw new BackendError('bad_credentials', 'The username or password is not correct.');
      }
    }
    if ([...request.newPassword].length < MIN_PASSWORD_CHARS) {
      throw new BackendError('invalid_input', `the password is not acceptable: it must have at least ${MIN_PASSWORD_CHARS} characters`);
    }
    if (request.newPassword.toLowerCase() === session.username.toLowerCase()) {
      throw new BackendError('invalid_input', 'the password is not acceptable: it must not be the username');
    }
    user.password = request.newPassword;
    user.mustChange = false;
    this.session = { ...session, mustChangePassword: false };
    return this.session;
  }

  /** The double has no idle lock of its own (the page's timer is what its tests drive); it only needs a session. */
  async keepAlive(): Promise<void> {
    this.calls.push('keepAlive');
    if (!this.session) throw new BackendError('not_signed_in', 'Nobody is signed in on this workstation.');
  }

  async signOut(): Promise<void> {
    this.calls.push('signOut');
    this.session = null;
    this.state.lastSave = null;
  }

  // HIM desk: see memory/him.ts.
  himKeygen(): Promise<Him.HimKey> {
    return this.him.himKeygen();
  }

  himImportFolder(): Promise<Him.HandoffFolder> {
    return this.him.himImportFolder();
  }

  himImportFiles(paths: string[]): Promise<Him.HandoffImportOutcome[]> {
    return this.him.himImportFiles(paths);
  }

  himImportShare(path: string): Promise<Him.ShareImportResult> {
    return this.him.himImportShare(path);
  }

  himWorklist(query: Him.WorklistQuery): Promise<Him.WorklistPage> {
    return this.him.himWorklist(query);
  }

  himSummary(): Promise<Him.ReconSummary> {
    return this.him.himSummary();
  }

  himMatch(entryId: string, mrn: string): Promise<string[]> {
    return this.him.himMatch(entryId, mrn);
  }

  himAccept(entryIds: string[]): Promise<number> {
    return this.him.himAccept(entryIds);
  }

  himAcceptAllMatched(): Promise<number> {
    return this.him.himAcceptAllMatched();
  }

  himReject(entryId: string, reason: string): Promise<void> {
    return this.him.himReject(entryId, reason);
  }

  himNeedsCorrection(entryId: string, reason: string): Promise<void> {
    return this.him.himNeedsCorrection(entryId, reason);
  }
  himRepost(entryIds: string[], note: string | null): Promise<number> {
    return this.him.himRepost(entryIds, note);
  }

  himEnteredByHand(entryId: string, by: string, at: string, place: string): Promise<void> {
    return this.him.himEnteredByHand(entryId, by, at, place);
  }


  himMarkDuplicate(entryId: string, of: string): Promise<void> {
    return this.him.himMarkDuplicate(entryId, of);
  }

  himDismissDuplicate(entryId: string, other: string, reason: string): Promise<void> {
    return this.him.himDismissDuplicate(entryId, other, reason);
  }

  himDuplicateProposals(): Promise<Him.DuplicateProposal[]> {
    return this.him.himDuplicateProposals();
  }

  himSideBySide(a: string, b: string): Promise<Him.SideBySide> {
    return this.him.himSideBySide(a, b);
  }

  himReadScan(path: string): Promise<Him.PaperScan> {
    return this.him.himReadScan(path);
  }

  himEpisodes(): Promise<Him.PaperEpisode[]> {
    return this.him.himEpisodes();
  }

  himBackEnter(request: Him.PaperEntryRequest): Promise<Him.PaperEntryOutcome> {
    return this.him.himBackEnter(request);
  }

  himExportFhir(path: string): Promise<Him.FhirBatch> {
    return this.him.himExportFhir(path);
  }

  himLatestBatch(): Promise<string | null> {
    return this.him.himLatestBatch();
  }

  himFhirServers(): Promise<string[]> {
    return this.him.himFhirServers();
  }

  himPostFhir(batchId: string, server: string, token: string | null): Promise<Him.FhirPostReport> {
    return this.him.himPostFhir(batchId, server, token);
  }

  himPostProgress(): Promise<Him.FhirPostProgress> {
    return this.him.himPostProgress();
  }

  himVerifyFhir(batchId: string, token: string | null): Promise<Him.FhirReadback> {
    return this.him.himVerifyFhir(batchId, token);
  }

  himReportCsv(path: string): Promise<Him.FileWritten> {
    return this.him.himReportCsv(path);
  }

  himReportPdf(path: string): Promise<Him.FileWritten> {
    return this.him.himReportPdf(path);
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
