// The in-memory double of the nurse's commands (commands/nurse.rs), over the shared MemoryState.
//
// It mimics the core's contract (codes, durability only after a "commit", drafts per user, required fields)
// closely enough to exercise every screen; it is not a second core. The allergy and duplicate rules are ported
// faithfully (memory/safety.ts) and held to the real backend by tests/contract/safety.json.
import { BackendError } from '../index';
import type { NurseApi } from '../nurse';
import type { Census } from '../generated/Census';
import type { CheckResult } from '../generated/CheckResult';
import type { DowntimeStatus } from '../generated/DowntimeStatus';
import type { DraftInfo } from '../generated/DraftInfo';
import type { DraftSaved } from '../generated/DraftSaved';
import type { EntryDetail } from '../generated/EntryDetail';
import type { EntryRequest } from '../generated/EntryRequest';
import type { EntrySaved } from '../generated/EntrySaved';
import type { EntryStatus } from '../generated/EntryStatus';
import type { EntrySummary } from '../generated/EntrySummary';
import type { Finding } from '../generated/Finding';
import type { FormInfo } from '../generated/FormInfo';
import type { PatientInfo } from '../generated/PatientInfo';
import type { Registration } from '../generated/Registration';
import type { SafetyWarning } from '../generated/SafetyWarning';
import type { SessionInfo } from '../generated/SessionInfo';
import { displayName, stamp, TEMP_MRN_SYSTEM, type MemoryEntry, type MemoryState } from './state';
import { fromResponse, screenFindings, type Questionnaire, type QItem, type RItem } from '../../forms/questionnaire';
import { derive } from '../../forms/expressions';
import { allergyMatches, allergyWarning, duplicatesOf, duplicateWarning, gate, possibleDuplicates } from './safety';
import { clinicalTimeItem } from './clinical-time';

function signedIn(state: MemoryState): SessionInfo {
  if (!state.session) throw new BackendError('not_signed_in', 'Nobody is signed in on this workstation.');
  return state.session;
}

function mayChart(state: MemoryState): SessionInfo {
  const session = signedIn(state);
  if (session.role !== 'nurse' && session.role !== 'charge') {
    throw new BackendError('forbidden', 'this role may not chart');
  }
  return session;
}

function mayRead(state: MemoryState): SessionInfo {
  const session = signedIn(state);
  if (session.role === 'admin') throw new BackendError('forbidden', 'administrators do not see patient data');
  return session;
}

/** Every write goes through here: refused on a read-only vault or an injected fault, never half-done. */
function write(state: MemoryState): void {
  if (state.readOnly) throw new BackendError('read_only', 'the vault is read-only on this workstation');
  if (state.failWrites) throw new BackendError(state.failWrites, 'the write failed; nothing was saved');
}

function patientByMrn(state: MemoryState, mrn: string): PatientInfo {
  const found = state.patients.find((p) => p.mrn === mrn.trim());
  if (!found) throw new BackendError('not_found', 'no patient with this MRN on this workstation');
  return found;
}

function formOf(state: MemoryState, canonical: string): FormInfo {
  const form = state.forms.find((f) => f.canonical === canonical || f.canonical.split('|')[0] === canonical);
  if (!form) throw new BackendError('invalid_input', "the response's questionnaire is not a loaded form");
  return form;
}

interface Response {
  questionnaire?: string;
  subject?: { identifier?: { system?: string; value?: string } };
  item?: RItem[];
}

/**
 * The double's validation: the form screen's own checks (`screenFindings`, in the core's words) on the answers read
 * back from the response. tests/contract/forms.json holds those checks to the core's `validate_response`, so the
 * double refuses what the core refuses for everything the screen checks (the clinical rules are the core's alone).
 */
export function findings(form: Questionnaire, response: Response): Finding[] {
  const answers = fromResponse(form, response);
  const computed = derive(form, answers, {});
  const out: Finding[] = [];
  for (const [linkId, messages] of Object.entries(screenFindings(form, answers, computed.disabled, computed.allowed))) {
    for (const message of messages) out.push({ linkId, severity: 'error', message });
  }
  return out;
}

const CLINICAL_RULE = 'http://downtimekit.example.org/fhir/StructureDefinition/clinical-rule';
/** What the form screen asks when no item holds the clinical time (the core's `ASKED_CLINICAL_TIME_LABEL`). */
const ASKED = 'When did this happen?';
/** A FHIR dateTime with seconds and an offset: what the core accepts as a given clinical time. */
const FULL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

interface Extension {
  url?: string;
  valueCode?: string;
  valueBoolean?: boolean;
}

/** Every item of the form in document order, depth first (the core's `Form::all_items`). */
function allItems(items: QItem[] | undefined): QItem[] {
  return (items ?? []).flatMap((item) => [item, ...allItems(item.item)]);
}

function extensions(item: QItem): Extension[] {
  return (item as { extension?: Extension[] }).extension ?? [];
}

/** Every answer to `linkId`, anywhere in the response (the core's `collect_answers`). */
function answersTo(items: RItem[] | undefined, linkId: string): Record<string, unknown>[] {
  return (items ?? []).flatMap((r) => [
    ...(r.linkId === linkId ? ((r.answer ?? []) as Record<string, unknown>[]) : []),
    ...answersTo(r.item, linkId),
  ]);
}

/** An answer as text, as the core's `AnswerValue::as_text` reads the usual kinds. */
function asText(answer: Record<string, unknown>): string {
  const coding = answer.valueCoding as { display?: string; code?: string } | undefined;
  if (coding) return coding.display ?? coding.code ?? '';
  if (answer.valueBoolean !== undefined) return answer.valueBoolean ? 'yes' : 'no';
  const value = Object.entries(answer).find(([key]) => key.startsWith('value'))?.[1];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

/**
 * The facts the safety checks need (the core's `forms::facts`): the clinical time is the dateTime answer of the item
 * holding it (`clinical-time.ts`; null for a form that asks for it); the medication is the first answer of the first
 * answered item with the "medication" rule, lower case with single spaces. Both are read after NFC normalisation, as
 * the core stores them.
 */
function facts(form: Questionnaire, response: Response): { medication: string | null; clinicalTime: string | null } {
  const items = allItems(form.item);
  const timeItem = clinicalTimeItem(form);
  const answers = timeItem ? answersTo(response.item, timeItem) : [];
  const time = answers.find((a) => typeof a.valueDateTime === 'string');
  let medication: string | null = null;
  for (const item of items) {
    if (!extensions(item).some((e) => e.url === CLINICAL_RULE && e.valueCode === 'medication')) continue;
    const first = answersTo(response.item, item.linkId)[0];
    if (first) {
      medication = asText(first).normalize('NFC').split(/\s+/).filter(Boolean).join(' ').toLowerCase();
      break;
    }
  }
  return { medication, clinicalTime: time ? (time.valueDateTime as string).normalize('NFC') : null };
}

interface Prepared {
  form: FormInfo;
  patient: PatientInfo;
  findings: Finding[];
  warnings: SafetyWarning[];
  medication: string | null;
  clinicalTime: string | null;
}

/**
 * The entry's clinical time, as the core's `api::clinical::clinical_time` decides it: the item's answer, or for a
 * form that asks for it the time given beside the response (a finding above the form when missing or malformed).
 */
export function clinicalTimeOf(form: FormInfo, answered: string | null, given: string | null, found: Finding[]): string | null {
  const item = clinicalTimeItem(form.questionnaire as Questionnaire);
  if (item !== null) {
    if (given !== null) {
      throw new BackendError('invalid_input', `this form holds the clinical time in its item '${item}': answer it there`);
    }
    return answered;
  }
  const time = given?.trim() ?? '';
  if (FULL_DATE_TIME.test(time)) return time;
  const message =
    time === ''
      ? `${ASKED} is required: no item of this form holds the clinical time`
      : `${ASKED} must be a date and time with seconds and a UTC offset, like 2026-11-21T10:15:00-05:00`;
  found.push({ linkId: null, severity: 'error', message });
  return null;
}

function prepare(state: MemoryState, raw: unknown, exclude: string | null, given: string | null = null): Prepared {
  const response = (raw ?? {}) as Response;
  const form = formOf(state, response.questionnaire ?? '');
  const q = form.questionnaire as Questionnaire;
  const found = findings(q, response);
  const mrn = response.subject?.identifier?.value;
  if (!mrn) throw new BackendError('invalid_input', 'the response has no patient');
  const patient = patientByMrn(state, mrn);
  const read = facts(q, response);
  const medication = read.medication;
  const clinicalTime = clinicalTimeOf(form, read.clinicalTime, given, found);
  const warnings: SafetyWarning[] = [];
  if (medication !== null) warnings.push(...allergyMatches(medication, patient.allergies).map(allergyWarning));
  const duplicates = possibleDuplicates(
    [...state.entries.values()].map((e) => e.summary),
    {
      patientMrn: patient.mrn,
      form: form.canonical,
      medication,
      clinicalTime,
      windowMinutes: state.duplicateWindowMinutes,
      exclude,
    },
  );
  warnings.push(...duplicates.map(duplicateWarning));
  return { form, patient, findings: found, warnings, medication, clinicalTime };
}

function refuseFindings(p: Prepared): void {
  const errors = p.findings.filter((f) => f.severity === 'error');
  if (errors.length > 0) {
    throw new BackendError(
      'invalid_input',
      `the form has problems: ${errors.map((f) => `${f.linkId ?? 'form'}: ${f.message}`).join('; ')}`,
    );
  }
}

function withId(response: unknown, id: string): unknown {
  return { ...(response as object), id };
}

function saved(state: MemoryState, entry: MemoryEntry, warnings: SafetyWarning[]): EntrySaved {
  const storedAt = stamp(state);
  state.lastSave = { durable: true, storedAt };
  return { id: entry.summary.id, version: entry.summary.version, status: entry.summary.status, storedAt, warnings };
}

function failedSave<T>(state: MemoryState, work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof BackendError && !['invalid_input', 'safety_check', 'not_signed_in'].includes(error.code)) {
      state.lastSave = { durable: false, storedAt: null };
    }
    throw error;
  }
}

function entryOf(state: MemoryState, id: string): MemoryEntry {
  const entry = state.entries.get(id);
  if (!entry) throw new BackendError('not_found', `entry ${id} was not found`);
  return entry;
}

function addVersion(
  state: MemoryState,
  entry: MemoryEntry,
  kind: string,
  status: EntryStatus,
  response: unknown,
  reason: string | null,
  signed: boolean,
  clinicalTime: string | null,
): void {
  const now = stamp(state);
  const author = signedIn(state).username;
  entry.summary = { ...entry.summary, status, version: entry.summary.version + 1, updatedAt: now };
  entry.versions.push({
    version: entry.summary.version,
    kind,
    author,
    recordedAt: now,
    signedAt: signed ? now : null,
    signedBy: signed ? author : null,
    reason,
    allergyOverride: entry.allergyOverride,
    clinicalTime,
    response,
  });
}

/** The nurse's commands against `state`. */
// The handover commands are memory/handover.ts's.
export function nurseApi(state: MemoryState): Omit<NurseApi, 'handover' | 'recordHandover'> {
  return {
    async census(): Promise<Census> {
      mayRead(state);
      return { patients: structuredClone(state.patients), snapshotTime: state.snapshotTime };
    },

    async findPatient(mrn: string): Promise<PatientInfo> {
      mayRead(state);
      return structuredClone(patientByMrn(state, mrn));
    },

    async registerPatient(registration: Registration): Promise<PatientInfo> {
      mayChart(state);
      write(state);
      if (!registration.family.trim()) throw new BackendError('invalid_input', 'registration: the family name is required');
      const block = state.tempMrn;
      if (!block) {
        throw new BackendError('conflict', 'this workstation has no block of temporary MRNs; hospital IT sets temp_mrn_block');
      }
      if (block.next > block.last) throw new BackendError('conflict', 'the temporary MRN block is used up');
      const given = registration.given.split(/\s+/).filter(Boolean);
      const patient: PatientInfo = {
        id: crypto.randomUUID(),
        name: displayName(registration.family.trim(), given),
        mrn: `${block.prefix}${block.next}`,
        mrnSystem: TEMP_MRN_SYSTEM,
        temporary: true,
        birthDate: registration.birthDate || null,
        gender: registration.gender || null,
        location: registration.location || null,
        allergies: [],
      };
      block.next += 1;
      state.patients.push(patient);
      return structuredClone(patient);
    },

    async forms(): Promise<FormInfo[]> {
      signedIn(state);
      return structuredClone(state.forms);
    },

    async patientEntries(mrn: string): Promise<EntrySummary[]> {
      mayRead(state);
      patientByMrn(state, mrn);
      return [...state.entries.values()]
        .filter((e) => e.summary.patientMrn === mrn)
        .map((e) => structuredClone(e.summary))
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    },

    async entry(id: string): Promise<EntryDetail> {
      mayRead(state);
      const entry = entryOf(state, id);
      return structuredClone({ summary: entry.summary, versions: entry.versions });
    },

    async checkEntry(request: EntryRequest, entryId: string | null = null): Promise<CheckResult> {
      mayRead(state);
      const p = prepare(state, request.response, entryId, request.clinicalTime);
      return p.findings.length > 0 ? { findings: p.findings, warnings: [] } : { findings: [], warnings: p.warnings };
    },

    async saveEntry(request: EntryRequest): Promise<EntrySaved> {
      return failedSave(state, () => {
        const session = mayChart(state);
        if (!state.episode) throw new BackendError('no_episode', 'no downtime episode is open on this workstation');
        const p = prepare(state, request.response, null, request.clinicalTime);
        refuseFindings(p);
        gate(p.warnings, request, request.sign);
        write(state);
        const id = crypto.randomUUID();
        const now = stamp(state);
        const entry: MemoryEntry = {
          summary: {
            id,
            form: p.form.canonical,
            status: 'draft',
            version: 0,
            author: session.username,
            createdAt: now,
            updatedAt: now,
            clinicalTime: p.clinicalTime,
            medication: p.medication,
            patientMrn: p.patient.mrn,
            patientName: p.patient.name,
          },
          versions: [],
          allergyOverride: request.allergyOverride?.trim() || null,
          distinctFrom: request.confirmNotDuplicate ? duplicatesOf(p.warnings) : [],
        };
        addVersion(state, entry, 'original', request.sign ? 'signed' : 'draft', withId(request.response, id), null, request.sign, p.clinicalTime);
        state.entries.set(id, entry);
        return saved(state, entry, p.warnings);
      });
    },

    async updateEntry(id: string, request: EntryRequest): Promise<EntrySaved> {
      return failedSave(state, () => {
        const session = mayChart(state);
        const entry = entryOf(state, id);
        if (entry.summary.author !== session.username) throw new BackendError('forbidden', 'only the author may change a draft');
        if (entry.summary.status !== 'draft') throw new BackendError('conflict', `entry ${id} is signed; amend it instead`);
        const p = prepare(state, request.response, id, request.clinicalTime);
        refuseFindings(p);
        gate(p.warnings, request, false);
        write(state);
        entry.allergyOverride = request.allergyOverride?.trim() || null;
        entry.distinctFrom = request.confirmNotDuplicate ? duplicatesOf(p.warnings) : [];
        entry.summary.medication = p.medication;
        entry.summary.clinicalTime = p.clinicalTime;
        // As the core does: an unsigned version is replaced in place.
        const last = entry.versions.at(-1);
        if (last) {
          Object.assign(last, {
            response: withId(request.response, id),
            recordedAt: stamp(state),
            allergyOverride: entry.allergyOverride,
            clinicalTime: p.clinicalTime,
          });
        }
        entry.summary.updatedAt = stamp(state);
        return saved(state, entry, p.warnings);
      });
    },

    async signEntry(id: string, confirmNotDuplicate: boolean): Promise<EntrySaved> {
      return failedSave(state, () => {
        const session = mayChart(state);
        const entry = entryOf(state, id);
        if (entry.summary.author !== session.username) throw new BackendError('forbidden', 'only the author may sign');
        if (entry.summary.status !== 'draft') throw new BackendError('conflict', `entry ${id} is already signed`);
        const last = entry.versions.at(-1);
        // Signing checks the draft again with the time it was saved with, when its form asks for one.
        const asked = clinicalTimeItem(formOf(state, entry.summary.form).questionnaire as Questionnaire) === null;
        const p = prepare(state, last?.response, id, asked ? (last?.clinicalTime ?? null) : null);
        // As the core does: a confirmation given when the draft was saved covers the entries it was given about,
        // never one charted since.
        const confirmedAtSave = duplicatesOf(p.warnings).every((d) => entry.distinctFrom.includes(d));
        const answers = {
          allergyOverride: entry.allergyOverride,
          confirmNotDuplicate: confirmNotDuplicate || confirmedAtSave,
        };
        gate(p.warnings, answers, true);
        write(state);
        // As the core does: signing seals the current version; it makes no new one.
        if (last) Object.assign(last, { signedAt: stamp(state), signedBy: session.username, recordedAt: stamp(state) });
        entry.summary = { ...entry.summary, status: 'signed', updatedAt: stamp(state) };
        return saved(state, entry, p.warnings);
      });
    },

    async amendEntry(id: string, request: EntryRequest): Promise<EntrySaved> {
      return failedSave(state, () => {
        mayChart(state);
        const entry = entryOf(state, id);
        if (entry.summary.status !== 'signed' && entry.summary.status !== 'amended') {
          throw new BackendError('conflict', `entry ${id} is not signed; change the draft instead`);
        }
        const p = prepare(state, request.response, id, request.clinicalTime);
        refuseFindings(p);
        gate(p.warnings, request, true);
        if (p.patient.mrn !== entry.summary.patientMrn || p.form.canonical !== entry.summary.form) {
          throw new BackendError('invalid_input', 'an amendment must keep the same patient and form');
        }
        write(state);
        // The new version carries this amendment's answers, as the core's does.
        entry.allergyOverride = request.allergyOverride?.trim() || null;
        entry.distinctFrom = request.confirmNotDuplicate ? duplicatesOf(p.warnings) : [];
        entry.summary.medication = p.medication;
        entry.summary.clinicalTime = p.clinicalTime;
        addVersion(state, entry, 'amendment', 'amended', withId(request.response, id), request.reason?.trim() || 'amended', true, p.clinicalTime);
        return saved(state, entry, p.warnings);
      });
    },

    async enterInError(id: string, reason: string): Promise<EntrySaved> {
      return failedSave(state, () => {
        const session = mayChart(state);
        if (!reason.trim()) throw new BackendError('invalid_input', 'a reason is required to mark an entry entered-in-error');
        const entry = entryOf(state, id);
        if (entry.summary.author !== session.username && session.role !== 'charge') {
          throw new BackendError('forbidden', 'only the author or a charge nurse may do this');
        }
        if (entry.summary.status === 'entered-in-error') throw new BackendError('conflict', 'already entered-in-error');
        write(state);
        const last = entry.versions.at(-1);
        addVersion(state, entry, 'entered-in-error', 'entered-in-error', last?.response, reason.trim(), true, last?.clinicalTime ?? null);
        return saved(state, entry, []);
      });
    },

    async saveDraft(id: string | null, body: unknown): Promise<DraftSaved> {
      const session = signedIn(state);
      write(state);
      const storedAt = stamp(state);
      const existing = id ? state.drafts.find((d) => d.id === id && d.owner === session.username) : undefined;
      if (id && !existing) throw new BackendError('not_found', 'draft not found');
      if (existing) {
        existing.body = structuredClone(body);
        existing.updatedAt = storedAt;
        return { id: existing.id, storedAt };
      }
      const draft = { id: crypto.randomUUID(), owner: session.username, updatedAt: storedAt, body: structuredClone(body) };
      state.drafts.unshift(draft);
      return { id: draft.id, storedAt };
    },

    async myDrafts(): Promise<DraftInfo[]> {
      const session = signedIn(state);
      return state.drafts
        .filter((d) => d.owner === session.username)
        .map((d) => ({ id: d.id, updatedAt: d.updatedAt, body: structuredClone(d.body) }));
    },

    async discardDraft(id: string): Promise<void> {
      const session = signedIn(state);
      write(state);
      state.drafts = state.drafts.filter((d) => !(d.id === id && d.owner === session.username));
    },

    async downtimeStatus(): Promise<DowntimeStatus> {
      signedIn(state);
      return {
        unit: state.unit,
        episode: structuredClone(state.episode),
        // As the core's census summary: every role sees the snapshot's time (no patient in it).
        snapshotTime: state.snapshotTime,
        lastSave: structuredClone(state.lastSave),
        backup: structuredClone(state.backup),
        readOnly: state.readOnly,
        idleTimeoutSecs: state.idleTimeoutSecs,
      };
    },
  };
}
