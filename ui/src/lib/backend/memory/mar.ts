// The in-memory double of the MAR (commands patient_mar and unit_overdue): a port of the core's schedule
// (src/mar/schedule.rs) for the timings the demo census and the screens' tests use — every N hours, N times a day,
// named clock times (timeOfDay, `when`), as needed, and "see order" for the rest — with the same window rules: a dose
// within the window either side covers a due time, a late one (before the next due time's window) covers the one it
// was late for, an interval counts from the dose actually given. Downtime medication-order entries are not ported
// (the real backend lists them): the double's screens test the census's orders. Times are the browser's local time.
// Held to the real backend by tests/contract/mar.json.
import { BackendError } from '../index';
import type { MarDose, MarDue, MarOrder, MarView, OverdueDose, UnitOverdue } from '../mar';
import type { PatientInfo } from '../generated/PatientInfo';
import type { MemoryState } from './state';

const MINUTE = 60_000;
const LOOK_AHEAD_HOURS = 24;
const ADMINISTRATION = 'medication-administration';
/** The unit's standard times for "N times a day" (ARCHITECTURE.md, "MAR schedule"). */
const STANDARD: Record<number, string[]> = {
  1: ['09:00'],
  2: ['09:00', '21:00'],
  3: ['09:00', '15:00', '21:00'],
  4: ['09:00', '13:00', '17:00', '21:00'],
};
const WHEN: Record<string, string> = {
  HS: '21:00', WAKE: '06:00', MORN: '08:00', NOON: '12:00', AFT: '14:00', EVE: '18:00', NIGHT: '22:00',
  C: '08:00', CM: '08:00', CD: '12:00', CV: '18:00', AC: '07:30', ACM: '07:30', ACD: '11:30', ACV: '17:30',
  PC: '08:30', PCM: '08:30', PCD: '12:30', PCV: '18:30',
};

type Json = Record<string, unknown>;
type Rule = { kind: 'interval'; minutes: number } | { kind: 'clock'; times: string[] } | { kind: 'see'; why: string };

interface Order {
  id: string;
  medication: string;
  code: string | null;
  dose: string | null;
  route: string | null;
  text: string | null;
  rule: Rule;
  prn: boolean;
  onHold: boolean;
  start: number | null;
}

interface Dose {
  at: number;
  given: boolean;
  reason: string | null;
  medication: string;
  code: string | null;
  entryId: string | null;
  by: string | null;
  orderRef: string | null;
}

const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {});
const arr = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

function conceptText(cc: unknown): string | null {
  const c = obj(cc);
  return str(c.text) ?? arr(c.coding).map((x) => str(x.display) ?? str(x.code)).find((x) => x !== null) ?? null;
}

function conceptCode(cc: unknown): string | null {
  const c = arr(obj(cc).coding)[0];
  return c && str(c.code) ? `${str(c.system) ?? ''}|${str(c.code)}` : null;
}

function quantityText(q: unknown): string | null {
  const v = obj(q);
  if (typeof v.value !== 'number') return null;
  return `${v.value} ${str(v.unit) ?? str(v.code) ?? ''}`.trim();
}

function ruleOf(timing: unknown): Rule {
  const t = obj(timing);
  const r = obj(t.repeat);
  if (Object.keys(r).length === 0) return { kind: 'see', why: 'the timing is in words only' };
  if (r.periodMax !== undefined || r.frequencyMax !== undefined) return { kind: 'see', why: 'a range of times' };
  const frequency = typeof r.frequency === 'number' ? r.frequency : 1;
  const period = typeof r.period === 'number' ? r.period : null;
  const unit = str(r.periodUnit);
  const named = arr(r.timeOfDay as unknown)
    .map((x) => String(x).slice(0, 5))
    .concat(arr(r.when as unknown).map((w) => WHEN[String(w)] ?? ''))
    .filter(Boolean);
  if (named.length > 0) return { kind: 'clock', times: [...new Set(named)].sort() };
  if (period !== null && (unit === 'h' || unit === 'min')) {
    const minutes = (period * (unit === 'h' ? 60 : 1)) / frequency;
    return minutes >= 15 ? { kind: 'interval', minutes } : { kind: 'see', why: 'shorter than 15 minutes' };
  }
  if (period === 1 && unit === 'd' && STANDARD[frequency]) return { kind: 'clock', times: STANDARD[frequency] };
  return { kind: 'see', why: 'a timing the double does not schedule' };
}

function censusOf(state: MemoryState, patient: PatientInfo): { orders: Order[]; doses: Dose[] } {
  const entries = arr(obj(state.census).entry);
  const url = entries.find((e) => obj(e.resource).id === patient.id)?.fullUrl;
  const mine = entries.map((e) => obj(e.resource)).filter((r) => url && obj(r.subject).reference === url);
  const orders = mine
    .filter((r) => r.resourceType === 'MedicationRequest' && (r.status === 'active' || r.status === 'on-hold'))
    .map((r, i): Order => {
      const dosage = arr(r.dosageInstruction)[0] ?? {};
      const timing = obj(dosage.timing);
      const authored = str(r.authoredOn) ?? str(obj(obj(timing.repeat).boundsPeriod).start);
      return {
        id: `census:${str(r.id) ?? i + 1}`,
        medication: conceptText(r.medicationCodeableConcept) ?? 'unknown medication',
        code: conceptCode(r.medicationCodeableConcept),
        dose: quantityText(obj(arr(dosage.doseAndRate)[0]).doseQuantity),
        route: conceptText(dosage.route),
        text: str(dosage.text),
        rule: Object.keys(timing).length ? ruleOf(timing) : { kind: 'see', why: 'no timing given' },
        prn: dosage.asNeededBoolean === true || dosage.asNeededCodeableConcept !== undefined,
        onHold: r.status === 'on-hold',
        start: authored ? Date.parse(authored) : null,
      };
    });
  const doses = mine
    .filter((r) => r.resourceType === 'MedicationAdministration' && (r.status === 'completed' || r.status === 'not-done'))
    .map((r): Dose => ({
      at: Date.parse(String(r.effectiveDateTime)),
      given: r.status === 'completed',
      reason: conceptText(arr(r.statusReason)[0]),
      medication: conceptText(r.medicationCodeableConcept) ?? '',
      code: conceptCode(r.medicationCodeableConcept),
      entryId: null,
      by: null,
      orderRef: str(obj(r.request).reference),
    }))
    .filter((d) => !Number.isNaN(d.at));
  return { orders, doses };
}

function answerOf(items: unknown, linkId: string): Json | null {
  for (const item of arr(items)) {
    if (item.linkId === linkId) return arr(item.answer)[0] ?? null;
    const inner = answerOf(item.item, linkId);
    if (inner) return inner;
  }
  return null;
}

function chartedDoses(state: MemoryState, mrn: string): Dose[] {
  const out: Dose[] = [];
  for (const e of state.entries.values()) {
    const s = e.summary;
    if (s.patientMrn !== mrn || !s.form.includes(ADMINISTRATION)) continue;
    if (s.status !== 'signed' && s.status !== 'amended') continue;
    const items = obj(e.versions.at(-1)?.response).item;
    const med = answerOf(items, 'medication');
    const time = str(answerOf(items, 'time-given')?.valueDateTime);
    if (!med || !time) continue;
    const coding = obj(med.valueCoding);
    const given = str(obj(answerOf(items, 'outcome')?.valueCoding).code) !== 'not-done';
    const reason = obj(answerOf(items, 'not-given-reason')?.valueCoding);
    out.push({
      at: Date.parse(time),
      given,
      reason: given ? null : (str(reason.display) ?? str(reason.code)),
      medication: str(coding.display) ?? str(coding.code) ?? str(med.valueString) ?? '',
      code: str(coding.code) ? `${str(coding.system) ?? ''}|${str(coding.code)}` : null,
      entryId: s.id,
      by: s.author,
      orderRef: null,
    });
  }
  return out;
}

const words = (s: string) => s.split(/\s+/).filter(Boolean).join(' ').toLowerCase();

function sameMedication(o: Order, d: Dose): boolean {
  if (o.code && d.code && o.code === d.code) return true;
  const [a, b] = [words(o.medication), words(d.medication)];
  if (!a || !b) return false;
  return a === b || a.startsWith(`${b} `) || b.startsWith(`${a} `);
}

function refersTo(ref: string, o: Order): boolean {
  const id = o.id.replace(/^census:/, '');
  return ref.endsWith(`/${id}`) || ref.endsWith(`:${id}`);
}

interface Window {
  from: number;
  until: number;
  now: number;
  tol: number;
}

const iso = (t: number) => new Date(t).toISOString();

function line(d: Dose): MarDose {
  return { at: iso(d.at), medication: d.medication, given: d.given, reason: d.reason, entryId: d.entryId, givenBy: d.by, fromCensus: d.entryId === null };
}

function row(w: Window, t: number, d: Dose | null): MarDue {
  const status = d
    ? d.given ? 'given' : 'not-given'
    : w.now < t - w.tol ? 'scheduled' : w.now <= t + w.tol ? 'due' : 'overdue';
  return {
    at: iso(t),
    status,
    entryId: d?.entryId ?? null,
    givenAt: d ? iso(d.at) : null,
    givenBy: d?.by ?? null,
    fromCensus: d ? d.entryId === null : false,
    reason: d?.reason ?? null,
  };
}

function clockTimes(times: string[], lo: number, hi: number): number[] {
  const out: number[] = [];
  const day = new Date(lo);
  day.setHours(0, 0, 0, 0);
  day.setDate(day.getDate() - 1);
  while (day.getTime() <= hi) {
    for (const hm of times) {
      const [h, m] = hm.split(':').map(Number);
      const t = new Date(day.getFullYear(), day.getMonth(), day.getDate(), h, m).getTime();
      if (t >= lo && t <= hi) out.push(t);
    }
    day.setDate(day.getDate() + 1);
  }
  return out.sort((a, b) => a - b);
}

function scheduleOrder(o: Order, doses: Dose[], w: Window): MarOrder {
  const used = doses.map(() => false);
  const due: MarDue[] = [];
  const lo = Math.max(o.start ?? w.from, w.from);
  const out: MarOrder = {
    order: o.id,
    fromCensus: true,
    medication: o.medication,
    dose: o.dose,
    route: o.route,
    timing: o.rule.kind === 'see' ? (o.text ?? 'no timing given') : describe(o),
    kind: o.onHold ? 'on-hold' : o.prn ? 'prn' : o.rule.kind === 'see' ? 'see-order' : 'scheduled',
    seeOrder: !o.onHold && !o.prn && o.rule.kind === 'see' ? o.rule.why : null,
    startsAt: o.start === null ? null : iso(o.start),
    stopsAt: null,
    prn: null,
    due,
    otherDoses: [],
  };
  if (out.kind === 'prn') {
    const interval = o.rule.kind === 'interval' ? o.rule.minutes : null;
    const last = [...doses].reverse().find((d) => d.given && d.at <= w.now) ?? null;
    const next = last && interval !== null && last.at + interval * MINUTE > w.now ? last.at + interval * MINUTE : null;
    out.prn = { lastDoseAt: last ? iso(last.at) : null, minIntervalMinutes: interval, nextAllowedAt: next === null ? null : iso(next) };
    due.push({ ...row(w, 0, last), at: next === null ? null : iso(next), status: 'prn' });
    out.otherDoses = doses.map(line);
    return out;
  }
  if (o.rule.kind === 'interval') {
    const step = o.rule.minutes * MINUTE;
    let anchor = [...doses].reverse().find((d) => d.given && d.at < lo - w.tol)?.at ?? null;
    let t = anchor !== null ? anchor + step : (o.start ?? lo);
    if (t < lo) t += Math.ceil((lo - t) / step) * step;
    while (t <= w.until) {
      const lateUntil = Math.max(t + step - w.tol, t + w.tol);
      let found: Dose | null = null;
      for (const [k, d] of doses.entries()) {
        if (used[k] || (anchor !== null && d.at <= anchor) || d.at > lateUntil) continue;
        used[k] = true;
        if (d.given || d.at >= t - w.tol) {
          found = d;
          break;
        }
        used[k] = false;
        anchor = Math.max(anchor ?? d.at, d.at);
      }
      due.push(row(w, t, found));
      if (found?.given) {
        anchor = found.at;
        t = found.at + step;
      } else t += step;
    }
  } else if (o.rule.kind === 'clock') {
    const times = clockTimes(o.rule.times, lo, w.until);
    const covered: (Dose | null)[] = times.map((t) => {
      let best: number | null = null;
      let gap = Infinity;
      doses.forEach((d, k) => {
        const off = Math.abs(d.at - t);
        if (!used[k] && off <= w.tol && off < gap) [best, gap] = [k, off];
      });
      if (best === null) return null;
      used[best] = true;
      return doses[best] ?? null;
    });
    times.forEach((t, i) => {
      if (covered[i]) return;
      const limit = (times[i + 1] ?? Infinity) - w.tol;
      const k = doses.findIndex((d, j) => !used[j] && d.at > t + w.tol && d.at < limit);
      if (k >= 0) {
        used[k] = true;
        covered[i] = doses[k] ?? null;
      }
    });
    times.forEach((t, i) => due.push(row(w, t, covered[i] ?? null)));
  }
  out.otherDoses = doses.filter((_, k) => !used[k]).map(line);
  return out;
}

function describe(o: Order): string {
  const prn = o.prn ? 'as needed, ' : '';
  if (o.rule.kind === 'interval') {
    const m = o.rule.minutes;
    return `${prn}${m % 60 === 0 ? (m === 60 ? 'every hour' : `every ${m / 60} hours`) : `every ${m} minutes`}`;
  }
  return o.rule.kind === 'clock' ? `${prn}${o.rule.times.join(', ')}` : (o.text ?? '');
}

function mayRead(state: MemoryState): void {
  if (!state.session) throw new BackendError('not_signed_in', 'Nobody is signed in on this workstation.');
  if (state.session.role === 'admin') throw new BackendError('forbidden', 'this role may not read patient data');
}

function window(state: MemoryState): Window {
  if (!state.episode) {
    throw new BackendError('no_episode', 'no downtime episode on this workstation: the MAR lists an episode\u2019s doses');
  }
  const now = state.now().getTime();
  return { from: Date.parse(state.episode.startedAt), until: now + LOOK_AHEAD_HOURS * 3_600_000, now, tol: state.marWindowMinutes * MINUTE };
}

function marOf(state: MemoryState, patient: PatientInfo, w: Window): MarView {
  const census = censusOf(state, patient);
  const orders = census.orders;
  const doses = [...census.doses, ...chartedDoses(state, patient.mrn)].sort((a, b) => a.at - b.at);
  const perOrder: Dose[][] = orders.map(() => []);
  const unmatched: MarDose[] = [];
  const active = (o: Order, t: number) => o.start === null || o.start - w.tol <= t;
  for (const d of doses) {
    let i = d.orderRef ? orders.findIndex((o) => refersTo(d.orderRef as string, o)) : -1;
    if (i < 0) {
      const candidates = orders.map((o, k) => ({ o, k })).filter(({ o }) => sameMedication(o, d));
      candidates.sort((a, b) => Number(a.o.prn) - Number(b.o.prn) || Number(!active(a.o, d.at)) - Number(!active(b.o, d.at)) || a.k - b.k);
      i = candidates[0]?.k ?? -1;
    }
    const list = perOrder[i];
    if (list) list.push(d);
    else unmatched.push(line(d));
  }
  return {
    mrn: patient.mrn,
    name: patient.name,
    allergies: structuredClone(patient.allergies),
    drill: state.episode?.kind === 'drill',
    from: iso(w.from),
    until: iso(w.until),
    now: iso(w.now),
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    windowMinutes: state.marWindowMinutes,
    orders: orders.map((o, i) => scheduleOrder(o, perOrder[i] ?? [], w)),
    unmatchedDoses: unmatched,
  };
}

export function marApi(state: MemoryState) {
  return {
    async patientMar(mrn: string): Promise<MarView> {
      mayRead(state);
      const patient = state.patients.find((p) => p.mrn === mrn);
      if (!patient) throw new BackendError('not_found', 'no patient with this MRN on this workstation');
      return marOf(state, patient, window(state));
    },

    async unitOverdue(): Promise<UnitOverdue> {
      mayRead(state);
      const w = window(state);
      const doses: OverdueDose[] = [];
      for (const p of state.patients) {
        for (const o of marOf(state, p, w).orders) {
          for (const d of o.due.filter((x) => x.status === 'overdue')) {
            doses.push({ mrn: p.mrn, name: p.name, location: p.location, medication: o.medication, dose: o.dose, route: o.route, dueAt: d.at ?? '' });
          }
        }
      }
      doses.sort((a, b) => Date.parse(a.dueAt) - Date.parse(b.dueAt));
      return { now: iso(w.now), windowMinutes: state.marWindowMinutes, doses, unreadable: [] };
    },
  };
}
