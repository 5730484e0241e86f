// The in-memory double of the shift handover commands (commands/nurse.rs `handover`, `record_handover`), over the
// shared MemoryState. The double has no MAR schedule: its sheet lists the doses charted since the last handover and
// no due times (the real backend's come from the core's schedule, tested there); vitals, notes and unsigned entries
// follow the core's rules (tests/it/handover.rs).
import { BackendError } from '../index';
import type { HandedOver } from '../generated/HandedOver';
import type { HandoverAnswer } from '../generated/HandoverAnswer';
import type { HandoverSheet } from '../generated/HandoverSheet';
import type { NurseApi } from '../nurse';
import type { MemoryEntry, MemoryState } from './state';

/** The recorded handovers per state: MRN → the newest. */
const recorded = new WeakMap<MemoryState, Map<string, HandedOver>>();

const VITALS = '/vital-signs|';
const NOT_NOTES = ['/vital-signs|', '/medication-administration|', '/medication-order|'];
const CLINICAL_TIME = ['measured-at', 'observed-at', 'time-given', 'order-time'];

interface Item {
  linkId: string;
  answer?: Record<string, unknown>[];
  item?: Item[];
}

function words(value: Record<string, unknown>): string {
  for (const [key, v] of Object.entries(value)) {
    if (!key.startsWith('value')) continue;
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ('display' in o || 'code' in o) return String(o.display ?? o.code ?? '');
      if ('value' in o) return `${String(o.value)} ${String(o.unit ?? '')}`.trim();
    }
    if (typeof v === 'boolean') return v ? 'Yes' : 'No';
    return String(v);
  }
  return '';
}

interface QItem {
  linkId: string;
  text?: string;
  item?: QItem[];
}

/** The question's text, as the core labels answers; the linkId when the form has none. */
function labelOf(items: QItem[] | undefined, linkId: string): string | null {
  for (const q of items ?? []) {
    if (q.linkId === linkId) return q.text ?? null;
    const inner = labelOf(q.item, linkId);
    if (inner) return inner;
  }
  return null;
}

function answers(form: QItem[] | undefined, items: Item[] | undefined, out: HandoverAnswer[]): HandoverAnswer[] {
  for (const it of items ?? []) {
    if (CLINICAL_TIME.includes(it.linkId)) continue;
    const value = (it.answer ?? []).map(words).filter((w) => w.trim() !== '');
    if (value.length > 0) out.push({ label: labelOf(form, it.linkId) ?? it.linkId, value: value.join(', ') });
    answers(form, it.item, out);
  }
  return out;
}

function current(e: MemoryEntry): Item[] {
  const version = e.versions.find((v) => v.version === e.summary.version) ?? e.versions[e.versions.length - 1];
  return ((version?.response as { item?: Item[] } | undefined)?.item ?? []) as Item[];
}

function when(e: MemoryEntry): string {
  return e.summary.clinicalTime ?? e.summary.createdAt;
}

function questions(state: MemoryState, e: MemoryEntry): QItem[] | undefined {
  const form = state.forms.find((f) => f.canonical === e.summary.form);
  return (form?.questionnaire as { item?: QItem[] } | undefined)?.item;
}

export function handoverApi(state: MemoryState): Pick<NurseApi, 'handover' | 'recordHandover'> {
  const open = (mrn: string) => {
    const session = state.session;
    if (!session) throw new BackendError('not_signed_in', 'Nobody is signed in on this workstation.');
    if (session.role === 'admin') throw new BackendError('forbidden', 'administrators do not see patient data');
    const patient = state.patients.find((p) => p.mrn === mrn.trim());
    if (!patient) throw new BackendError('not_found', 'no patient with this MRN on this workstation');
    if (!state.episode) {
      throw new BackendError('no_episode', "no downtime episode on this workstation: the MAR lists an episode's doses");
    }
    return { session, patient, episode: state.episode };
  };
  return {
    async handover(mrn: string): Promise<HandoverSheet> {
      const { patient, episode } = open(mrn);
      const last = recorded.get(state)?.get(patient.mrn) ?? null;
      const since = last?.at ?? episode.startedAt;
      const after = (at: string) => Date.parse(at) >= Date.parse(since);
      const mine = [...state.entries.values()].filter((e) => e.summary.patientMrn === patient.mrn);
      const signed = mine.filter((e) => e.summary.status === 'signed' || e.summary.status === 'amended');
      const vitals = signed
        .filter((e) => e.summary.form.includes(VITALS))
        .sort((a, b) => Date.parse(when(b)) - Date.parse(when(a)))[0];
      const now = new Date();
      return {
        mrn: patient.mrn,
        name: patient.name,
        drill: episode.kind === 'drill',
        now: now.toISOString(),
        lastHandover: last ? { ...last } : null,
        since,
        dueUntil: new Date(now.getTime() + 12 * 3600_000).toISOString(),
        vitals: vitals
          ? { entryId: vitals.summary.id, at: when(vitals), author: vitals.summary.author, values: answers(questions(state, vitals), current(vitals), []) }
          : null,
        given: signed
          .filter((e) => e.summary.form.includes('/medication-administration|') && after(when(e)))
          .map((e) => ({ medication: e.summary.medication ?? '', at: when(e), given: true, reason: null, entryId: e.summary.id })),
        due: [],
        notes: signed
          .filter((e) => !NOT_NOTES.some((f) => e.summary.form.includes(f)) && after(when(e)))
          .sort((a, b) => Date.parse(when(a)) - Date.parse(when(b)))
          .map((e) => ({
            entryId: e.summary.id,
            form: e.summary.form.split('|')[0]?.split('/').pop() ?? e.summary.form,
            at: when(e),
            author: e.summary.author,
            text: answers(questions(state, e), current(e), []).map((a) => `${a.label}: ${a.value}`).join('\n'),
          })),
        unsigned: mine
          .filter((e) => e.summary.status === 'draft')
          .map((e) => ({ entryId: e.summary.id, form: e.summary.form, author: e.summary.author, savedAt: e.summary.updatedAt })),
        printFolder: '/home/nurse/Documents/Downtime Kit',
      };
    },

    async recordHandover(mrn: string): Promise<HandedOver> {
      const { session, patient } = open(mrn);
      if (session.role !== 'nurse' && session.role !== 'charge') {
        throw new BackendError('forbidden', 'this role may not chart');
      }
      if (state.readOnly) throw new BackendError('read_only', 'the vault is read-only on this workstation');
      const done = { at: new Date().toISOString(), by: `${session.displayName} (${session.username})` };
      const map = recorded.get(state) ?? new Map<string, HandedOver>();
      map.set(patient.mrn, done);
      recorded.set(state, map);
      return { ...done };
    },
  };
}
