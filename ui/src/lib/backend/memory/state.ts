// The in-memory double's shared state: users and session, the unit's census, forms, entries with their versions,
// drafts and the open episode. The demo unit is the same synthetic census and forms the desktop app's "demo unit"
// loads (assets/demo/census-demo.json, forms/*.json), imported as JSON by Vite.
//
// Other areas (charge, HIM) read and extend this state from their own files; it holds no logic beyond seeding.
import type { Role } from '../generated/Role';
import type { SessionInfo } from '../generated/SessionInfo';
import type { PatientInfo } from '../generated/PatientInfo';
import type { FormInfo } from '../generated/FormInfo';
import type { EntrySummary } from '../generated/EntrySummary';
import type { EntryVersion } from '../generated/EntryVersion';
import type { EpisodeInfo } from '../generated/EpisodeInfo';
import type { LastSave } from '../generated/LastSave';
import type { BackupInfo } from '../generated/BackupInfo';
import type { ErrorCode } from '../generated/ErrorCode';
import demoCensus from '../../../../../assets/demo/census-demo.json';
import medicationAdministration from '../../../../../forms/medication-administration.json';
import medicationOrder from '../../../../../forms/medication-order.json';
import nursingNote from '../../../../../forms/nursing-note.json';
import vitalSigns from '../../../../../forms/vital-signs.json';
import downtimeRegistration from '../../../../../forms/downtime-registration.json';
import type { Questionnaire } from '../../forms/questionnaire';
import { asksClinicalTime } from './clinical-time';

export interface MemoryUser {
  displayName: string;
  password: string;
  role: Role;
  /** A roster account still on its one-time password. */
  mustChange?: boolean;
  /** Disabled by an administrator: it can no longer sign in. */
  disabled?: boolean;
  /** Consecutive failed sign-ins; from `LOCK_AFTER_FAILURES` on the account is locked until someone unlocks it. */
  failedSignIns?: number;
}

export interface MemoryEntry {
  summary: EntrySummary;
  versions: EntryVersion[];
  allergyOverride: string | null;
  /**
   * The entries the author confirmed, when saving, this one is a different event from (as the core's
   * `VersionBody.distinct_from`): signing asks again only about a possible duplicate not among them.
   */
  distinctFrom: string[];
}

export interface MemoryDraft {
  id: string;
  owner: string;
  updatedAt: string;
  body: unknown;
}

export interface MemoryState {
  unit: string | null;
  users: Map<string, MemoryUser>;
  session: SessionInfo | null;
  patients: PatientInfo[];
  snapshotTime: string | null;
  forms: FormInfo[];
  entries: Map<string, MemoryEntry>;
  drafts: MemoryDraft[];
  episode: EpisodeInfo | null;
  lastSave: LastSave | null;
  /** The interim backup the banner shows (the real app takes one every `backup_interval_hours`; tests set it). */
  backup: BackupInfo;
  readOnly: boolean;
  idleTimeoutSecs: number;
  /** The site's `duplicate_window_minutes` (src/site.rs; 60 by default). */
  duplicateWindowMinutes: number;
  /** The site's `mar_window_minutes` (60 by default). */
  marWindowMinutes: number;
  /** The census FHIR Bundle as imported (the MAR reads its orders and last doses). */
  census: unknown;
  tempMrn: { prefix: string; next: number; last: number } | null;
  /** When set, the next write fails with this code (to show that the UI never claims a failed save). */
  failWrites: ErrorCode | null;
  /** The clock; tests may replace it. */
  now: () => Date;
}

/** As the core's `auth::LOCK_AFTER_FAILURES`: the failed sign-in that locks the account (the double has no throttle). */
export const LOCK_AFTER_FAILURES = 11;
export const MRN_SYSTEM = 'http://hospital.example.org/mrn';
export const TEMP_MRN_SYSTEM = 'http://hospital.example.org/downtime-mrn';
export const DEMO_PASSWORD = 'demo-password';
export const DEMO_USERS: ReadonlyArray<readonly [string, string, Role]> = [
  ['demo.nurse', 'Demo Nurse', 'nurse'],
  ['demo.charge', 'Demo Charge Nurse', 'charge'],
  ['demo.him', 'Demo HIM Analyst', 'him'],
];

export function emptyState(): MemoryState {
  return {
    unit: null,
    users: new Map(),
    session: null,
    patients: [],
    snapshotTime: null,
    forms: [],
    entries: new Map(),
    drafts: [],
    episode: null,
    lastSave: null,
    backup: { lastAt: null, lastFolder: null, overdue: false, running: false, failure: null, intervalHours: 4 },
    readOnly: false,
    idleTimeoutSecs: 300,
    duplicateWindowMinutes: 60,
    marWindowMinutes: 60,
    census: null,
    tempMrn: null,
    failWrites: null,
    now: () => new Date(),
  };
}

/** ISO time as the core stamps it. */
export function stamp(state: MemoryState): string {
  return state.now().toISOString();
}

interface FhirResource {
  resourceType: string;
  id?: string;
  [key: string]: unknown;
}

/** "FAMILY, Given" as wristbands and the core show it. */
export function displayName(family: string, given: string[]): string {
  const g = given.join(' ');
  if (family && g) return `${family.toUpperCase()}, ${g}`;
  return family ? family.toUpperCase() : g;
}

/** Reads the census bundle's patients, their locations and active allergies (the core's parser, much simplified). */
export function parseCensus(bundle: { timestamp?: string; entry?: { fullUrl?: string; resource: FhirResource }[] }): {
  patients: PatientInfo[];
  snapshotTime: string | null;
} {
  const resources = (bundle.entry ?? []).map((e) => ({ url: e.fullUrl ?? '', r: e.resource }));
  const patients: PatientInfo[] = [];
  for (const { url, r } of resources) {
    if (r.resourceType !== 'Patient') continue;
    const identifier = (r.identifier as { system?: string; value?: string }[] | undefined)?.[0];
    const name = (r.name as { family?: string; given?: string[] }[] | undefined)?.[0];
    const refersHere = (ref: unknown) => (ref as { reference?: string } | undefined)?.reference === url;
    const encounter = resources.find((x) => x.r.resourceType === 'Encounter' && refersHere(x.r.subject))?.r;
    const location = (encounter?.location as { location?: { display?: string } }[] | undefined)?.[0]?.location
      ?.display;
    // As the core's census parser: resolved and inactive allergies are left out, the substance is the code's text,
    // else a coding's display, else its code.
    const allergies = resources
      .filter((x) => x.r.resourceType === 'AllergyIntolerance' && refersHere(x.r.patient))
      .filter((x) => {
        const status = (x.r.clinicalStatus as { coding?: { code?: string }[] } | undefined)?.coding?.[0]?.code;
        return status !== 'inactive' && status !== 'resolved';
      })
      .map((x) => {
        const code = x.r.code as { text?: string; coding?: { display?: string; code?: string }[] } | undefined;
        type Concept = { text?: string; coding?: { display?: string; code?: string }[] };
        const manifestation = (x.r.reaction as { manifestation?: Concept[] }[] | undefined)?.[0]?.manifestation?.[0];
        const reaction = manifestation?.text ?? manifestation?.coding?.map((c) => c.display ?? c.code).find(Boolean);
        const coded = code?.coding?.map((c) => c.display ?? c.code).find((t) => t !== undefined);
        return {
          substance: code?.text ?? coded ?? 'unknown substance',
          reaction: reaction ?? null,
          criticality: (x.r.criticality as string | undefined) ?? null,
        };
      });
    patients.push({
      id: r.id ?? url,
      name: displayName(name?.family ?? '', name?.given ?? []),
      mrn: identifier?.value ?? '',
      mrnSystem: identifier?.system ?? MRN_SYSTEM,
      temporary: false,
      birthDate: (r.birthDate as string | undefined) ?? null,
      gender: (r.gender as string | undefined) ?? null,
      location: location ?? null,
      allergies,
    });
  }
  patients.sort((a, b) => a.name.localeCompare(b.name));
  return { patients, snapshotTime: bundle.timestamp ?? null };
}

/** A Questionnaire as the core lists it: canonical, title, whether it asks for the clinical time. */
export function formInfo(questionnaire: { url: string; version?: string; title?: string }): FormInfo {
  return {
    canonical: `${questionnaire.url}|${questionnaire.version ?? ''}`,
    title: questionnaire.title ?? questionnaire.url,
    asksClinicalTime: asksClinicalTime(questionnaire as Questionnaire),
    questionnaire,
  };
}

/** The bundled forms, sorted by title as the core returns them. */
export function bundledForms(): FormInfo[] {
  return [medicationAdministration, medicationOrder, nursingNote, vitalSigns, downtimeRegistration]
    .map((q) => formInfo(q as { url: string; version?: string; title?: string }))
    .sort((a, b) => a.title.localeCompare(b.title));
}

/** As the core's `DEMO_OUTAGE_HOURS`: the demo's practice downtime began this long before the demo was loaded. */
export const DEMO_OUTAGE_HOURS = 3;

/**
 * The demo census with its last doses moved to keep their distance from the outage's start, as the core's
 * `demo_census` does, so the MAR has a dose overdue (Okafor's metoprolol).
 */
function demoCensusAt(outage: number): typeof demoCensus {
  const bundle = structuredClone(demoCensus) as typeof demoCensus;
  const taken = Date.parse(bundle.timestamp);
  for (const e of bundle.entry) {
    const r = e.resource as { resourceType: string; effectiveDateTime?: string };
    if (r.resourceType !== 'MedicationAdministration' || !r.effectiveDateTime) continue;
    r.effectiveDateTime = new Date(outage + (Date.parse(r.effectiveDateTime) - taken)).toISOString();
  }
  return bundle;
}

/** Loads the demo unit into `state`: census, forms, one user per clinical role, a DRILL episode, an MRN block. */
export function loadDemoUnit(state: MemoryState): void {
  const outage = state.now().getTime() - DEMO_OUTAGE_HOURS * 3_600_000;
  state.census = demoCensusAt(outage);
  const census = parseCensus(demoCensus as Parameters<typeof parseCensus>[0]);
  state.patients = census.patients;
  state.snapshotTime = census.snapshotTime;
  state.forms = bundledForms();
  for (const [username, displayName, role] of DEMO_USERS) {
    if (!state.users.has(username)) state.users.set(username, { displayName, password: DEMO_PASSWORD, role });
  }
  state.tempMrn ??= { prefix: 'DEMO-', next: 1, last: 999 };
  state.episode ??= {
    id: 'demo-episode',
    kind: 'drill',
    startedAt: new Date(outage).toISOString(),
    startedBy: 'admin',
    severity: 'P3',
    reason: 'Demo unit: practice with synthetic patients',
    commander: null,
    liaison: null,
  };
}
