// The administrator's part of the in-memory test double: accounts over the shared users map (one-time passwords,
// disable, unlock, reset, a roster read from `rosters` instead of the disk), the census (files of the census folder
// seeded as `censusFiles`, imported over the shared patients), a forms check, `verify`, backups and a readiness
// report, all seeded. Roles are checked as the core checks them (administrators; backups, census import and unlock
// also charge nurses).
import { BackendError } from '../index';
import type * as A from '../admin';
import type { Role } from '../generated/Role';
import { LOCK_AFTER_FAILURES, parseCensus, type MemoryState } from './state';

export interface AdminSeed {
  /** Roster CSV files "on the disk", by path. */
  rosters?: Record<string, string>;
  /** Form files the workstation refused. */
  refusedForms?: A.RefusedForm[];
  /** What `verify` finds. */
  verifyProblems?: A.VerifyProblem[];
  /** The site's `backup_dir` (none: "back up now" fails as the core does). */
  backupFolder?: string | null;
  /** The newest backup, minutes ago. */
  backupAgeMinutes?: number | null;
  /** The readiness report (the double's default: ready, every check ok). */
  readiness?: A.ReadinessReport;
  /** The site's `census_import_dir` (default `/shared/census`; null: the site names none). */
  censusFolder?: string | null;
  /** The files in it, by name: their text (a FHIR Bundle, or anything else to see it refused). */
  censusFiles?: Record<string, string>;
}

/** As the core's default `census_max_age_hours`. */
const CENSUS_MAX_AGE_HOURS = 24;

const ROLES: Role[] = ['nurse', 'charge', 'him', 'admin'];
const stamp = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Twelve characters without look-alikes, like the core's one-time passwords. */
function oneTimePassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  return Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => alphabet[b % alphabet.length]).join('');
}

export function defaultReadiness(now: Date): A.ReadinessReport {
  const check = (name: string, detail: string): A.ReadinessCheck => ({ name, status: 'ok', detail, values: {} });
  return {
    ready: true,
    checkedAt: stamp(now),
    workstationId: 'ws-memory',
    unit: '5 East',
    notReady: [],
    warnings: [],
    checks: [check('census', 'census taken 2 h ago'), check('forms', '5 forms loaded'), check('him_key', 'HIM key configured')],
  };
}

export function adminApi(state: MemoryState, seed: AdminSeed = {}) {
  let backupAt: Date | null =
    seed.backupAgeMinutes == null ? null : new Date(state.now().getTime() - seed.backupAgeMinutes * 60_000);
  let lastVerify: A.VerifyResult | null = null;
  const folder = seed.backupFolder === undefined ? '/media/usb/dtk-backups' : seed.backupFolder;
  const censusFolder = seed.censusFolder === undefined ? '/shared/census' : seed.censusFolder;

  function require(...roles: Role[]) {
    const session = state.session;
    if (!session) throw new BackendError('not_signed_in', 'Nobody is signed in on this workstation.');
    if (!roles.includes(session.role)) throw new BackendError('forbidden', 'Your role may not do this.');
    return session;
  }

  function account(username: string) {
    const user = state.users.get(username);
    if (!user) throw new BackendError('not_found', `there is no user named '${username}'`);
    return user;
  }

  /** As readiness's `census` check: the snapshot's age against the site's limit, and its line for IT. */
  function censusCheck(): Pick<A.CensusDesk, 'snapshot' | 'status' | 'detail'> {
    const taken = state.snapshotTime;
    if (taken === null) {
      return {
        snapshot: null,
        status: 'not-ready',
        detail: "no census imported: import the unit's census snapshot (dtk census import FILE)",
      };
    }
    const hours = Math.floor((state.now().getTime() - new Date(taken).getTime()) / 3_600_000);
    const patients = state.patients.filter((p) => !p.temporary).length;
    const snapshot = { takenAt: taken, ageHours: hours, maxAgeHours: CENSUS_MAX_AGE_HOURS, patients };
    if (hours >= CENSUS_MAX_AGE_HOURS) {
      const detail = `census is stale: taken ${hours} h ago (${taken}), over the site's limit of ${CENSUS_MAX_AGE_HOURS} h (census_max_age_hours); import a fresh one`;
      return { snapshot, status: 'not-ready', detail };
    }
    return { snapshot, status: 'ok', detail: `census of ${patients} patients taken ${hours} h ago (limit ${CENSUS_MAX_AGE_HOURS} h)` };
  }

  function create(username: string, displayName: string, role: Role): A.OneTimePassword {
    if (!/^[a-z0-9._-]{2,64}$/.test(username)) {
      throw new BackendError('invalid_input', 'a username is 2 to 64 lower-case letters, digits, dots, dashes or underscores');
    }
    if (displayName.trim() === '') throw new BackendError('invalid_input', 'the display name must be a plain, non-empty name');
    if (state.users.has(username)) throw new BackendError('invalid_input', `'${username}' already exists`);
    const password = oneTimePassword();
    state.users.set(username, { displayName: displayName.trim(), password, role, mustChange: true });
    return { username, role, password };
  }

  return {
    async adminUsers(): Promise<A.StaffAccount[]> {
      require('admin');
      return [...state.users.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([username, u]) => ({
          username,
          displayName: u.displayName,
          role: u.role,
          active: !(u.disabled ?? false),
          oneTimePasswordPending: u.mustChange ?? false,
          locked: (u.failedSignIns ?? 0) >= LOCK_AFTER_FAILURES,
          emergency: false,
          expiresAt: null,
        }));
    },

    async adminAddUser(request: A.NewAccountRequest): Promise<A.OneTimePassword> {
      require('admin');
      return create(request.username.trim(), request.displayName, request.role);
    },

    async adminImportRoster(path: string): Promise<A.RosterImported> {
      require('admin');
      const csv = seed.rosters?.[path];
      if (csv === undefined) throw new BackendError('io', `reading the roster ${path}: No such file or directory`);
      const rows = csv
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '' && !line.startsWith('#'))
        .map((line) => line.split(',').map((f) => f.trim()))
        .filter((f) => f[0]?.toLowerCase() !== 'username');
      rows.forEach((f, i) => {
        if (f.length !== 3 || !ROLES.includes(f[2]?.toLowerCase() as Role)) {
          throw new BackendError('invalid_input', `roster line ${i + 1}: expected username, display name, role`);
        }
      });
      const result: A.RosterImported = { created: [], skipped: [] };
      for (const [username = '', displayName = '', role = ''] of rows) {
        if (state.users.has(username)) result.skipped.push(username);
        else result.created.push(create(username, displayName, role.toLowerCase() as Role));
      }
      return result;
    },

    async adminDisableUser(username: string): Promise<void> {
      const session = require('admin');
      if (username === session.username) throw new BackendError('invalid_input', 'you cannot disable your own account');
      account(username).disabled = true;
    },

    async adminUnlockUser(username: string): Promise<void> {
      // The site's `account_lockout` at its default, as in the double's sign-in: charge nurses may unlock too, but
      // not an administrator's account.
      const session = require('charge', 'admin');
      const user = account(username);
      if (session.role === 'charge' && user.role === 'admin') {
        throw new BackendError('forbidden', "an administrator's account is unlocked by an administrator");
      }
      user.failedSignIns = 0;
    },

    async adminCensus(): Promise<A.CensusDesk> {
      require('charge', 'admin');
      const files = Object.entries(seed.censusFiles ?? {})
        .map(([name, text]) => ({ name, bytes: new TextEncoder().encode(text).length, modifiedMinutesAgo: 30 }))
        .sort((a, b) => a.name.localeCompare(b.name));
      return { ...censusCheck(), folder: censusFolder, files: censusFolder ? files : [], folderProblem: null };
    },

    async adminImportCensus(file: string): Promise<A.CensusImported> {
      require('charge', 'admin');
      if (!censusFolder) {
        throw new BackendError('invalid_input', 'the site names no census_import_dir: set it in site.json, or import with dtk census import FILE');
      }
      if (file === '' || file.startsWith('.') || file.includes('/') || file.includes('\\')) {
        throw new BackendError('invalid_input', `'${file}' is not a file of the census folder ${censusFolder}`);
      }
      const text = seed.censusFiles?.[file];
      if (text === undefined) throw new BackendError('io', `${file}: cannot be read: No such file or directory (os error 2)`);
      let bundle: Parameters<typeof parseCensus>[0] & { resourceType?: string };
      try {
        bundle = JSON.parse(text);
      } catch (error) {
        throw new BackendError('invalid_input', `${file}: census is not valid JSON: ${(error as Error).message}`);
      }
      if (bundle?.resourceType !== 'Bundle') {
        throw new BackendError('invalid_input', `${file}: census must be a FHIR Bundle`);
      }
      const census = parseCensus(bundle);
      state.patients = [...state.patients.filter((p) => p.temporary), ...census.patients];
      state.snapshotTime = census.snapshotTime ?? stamp(state.now());
      const medications = (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'MedicationRequest').length;
      return {
        file,
        patients: census.patients.length,
        allergies: census.patients.reduce((n, p) => n + p.allergies.length, 0),
        medications,
        takenAt: state.snapshotTime,
        skipped: [],
      };
    },

    async adminResetPassword(username: string): Promise<A.OneTimePassword> {
      const session = require('admin');
      if (username === session.username) {
        throw new BackendError('invalid_input', 'change your own password with "Change my password"');
      }
      const user = account(username);
      user.password = oneTimePassword();
      user.mustChange = true;
      return { username, role: user.role, password: user.password };
    },

    async adminFormsCheck(): Promise<A.FormsCheck> {
      require('admin');
      return {
        loaded: state.forms.map((f) => ({ canonical: f.canonical, title: f.title })),
        refused: seed.refusedForms ?? [],
      };
    },

    async adminVerify(): Promise<A.VerifyResult> {
      require('charge', 'him', 'admin');
      const problems = seed.verifyProblems ?? [];
      lastVerify = { intact: problems.length === 0, problems, recordFailure: null };
      return lastVerify;
    },

    async adminBackupStatus(): Promise<A.BackupStatus> {
      require('charge', 'admin');
      const age = backupAt ? Math.floor((state.now().getTime() - backupAt.getTime()) / 60_000) : null;
      return {
        folder,
        intervalHours: 4,
        lastAt: backupAt ? stamp(backupAt) : null,
        lastFile: backupAt && folder ? `${folder}/dtk-backup-${stamp(backupAt)}.dtkbak` : null,
        ageMinutes: age,
        overdue: folder !== null && (age === null || age > 4 * 60),
        running: false,
        failure: null,
      };
    },

    async adminBackupNow(): Promise<A.BackupWritten> {
      require('charge', 'admin');
      if (!folder) throw new BackendError('invalid_input', 'no backup folder: the site names no backup_dir');
      backupAt = state.now();
      return { file: `${folder}/dtk-backup-${stamp(backupAt)}.dtkbak`, at: stamp(backupAt), bytes: 1_482_752 };
    },

    async readiness(): Promise<A.ReadinessReport> {
      return seed.readiness ?? defaultReadiness(state.now());
    },
  };
}
