// The safety contract held by the in-memory backend: every case of tests/contract/safety.json (allergy and duplicate
// warnings, and when saving or signing is refused) runs against MemoryBackend, step for step as
// src-tauri/tests/contract.rs runs it through the real Tauri commands. A case failing here and passing there means
// the double drifted from the core (memory/safety.ts is the port to fix).
import { describe, expect, it } from 'vitest';
import safety from '../../../../tests/contract/safety.json';
import { BackendError } from './index';
import { MemoryBackend } from './memory';
import { emptyState } from './memory/state';
import type { EntryRequest } from './generated/EntryRequest';
import type { EntrySaved } from './generated/EntrySaved';
import type { EntryStatus } from './generated/EntryStatus';
import type { SafetyWarning } from './generated/SafetyWarning';

interface Contract {
  about: string[];
  duplicateWindowMinutes: number;
  overrideReason: string;
  refusals: Record<string, { code: string; message: string }>;
  /** Response templates per form: `$mrn`, `$time` and `$medication` are filled in. */
  responses: Record<string, unknown>;
  cases: Case[];
}

interface Charted {
  key: string;
  form: string;
  medication?: string;
  minutes: number;
  offset?: string;
  status?: string;
  otherPatient?: boolean;
}

interface ExpectedWarning {
  kind: string;
  of?: string;
  message: string;
}

interface Case {
  name: string;
  allergies?: { substance: string; reaction?: string; clinicalStatus?: string }[];
  charted?: Charted[];
  new: { form: string; medication?: string; confirmOnSave?: boolean; changes?: string; amends?: string };
  /** Charted after the new entry's draft is saved, before it is signed. */
  chartedBeforeSigning?: Charted[];
  expect: {
    warnings: ExpectedWarning[];
    /** The warnings at signing, when entries were charted between the save and the signature. */
    warningsAtSigning?: ExpectedWarning[];
    withoutOverride: string;
    withoutConfirmation: string;
  };
}

const contract = safety as unknown as Contract;
const NURSE = 'cnurse';
const MRN_SYSTEM = 'http://hospital.example.org/mrn';
/** The patient of the charted entries marked `otherPatient`; the cases' own patients are CT1001, CT1002, ... */
const OTHER_MRN = 'CT1000';

const mrn = (index: number) => `CT${1001 + index}`;

/** A census bundle with one patient per case (and the neighbour of `otherPatient`), as the Rust suite builds it. */
function census() {
  const patients: [string, NonNullable<Case['allergies']>][] = [
    [OTHER_MRN, []],
    ...contract.cases.map((c, i): [string, NonNullable<Case['allergies']>] => [mrn(i), c.allergies ?? []]),
  ];
  const entry = patients.flatMap(([id, allergies], n) => {
    const url = `urn:uuid:00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    const patient = {
      fullUrl: url,
      resource: {
        resourceType: 'Patient',
        identifier: [
          {
            type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] },
            system: MRN_SYSTEM,
            value: id,
          },
        ],
        name: [{ family: 'Contract', given: [`Patient ${id}`] }],
        gender: 'unknown',
        birthDate: '1970-01-01',
      },
    };
    const intolerances = allergies.map((a, k) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-9000-${String(n).padStart(6, '0')}${String(k).padStart(6, '0')}`,
      resource: {
        resourceType: 'AllergyIntolerance',
        clinicalStatus: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical',
              code: a.clinicalStatus ?? 'active',
            },
          ],
        },
        code: { text: a.substance },
        patient: { reference: url },
        ...(a.reaction === undefined ? {} : { reaction: [{ manifestation: [{ text: a.reaction }] }] }),
      },
    }));
    return [patient, ...intolerances];
  });
  return { resourceType: 'Bundle', type: 'collection', timestamp: '2026-11-21T05:00:00Z', entry };
}

/** A FHIR dateTime for a time in milliseconds, written in `offset` ("-05:00") or in UTC ("Z"). */
function fhirTime(ms: number, offset?: string): string {
  const m = offset === undefined ? null : /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  if (offset !== undefined && !m) throw new Error(`offset ${offset} is not ±hh:mm`);
  const shift = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) * 60_000 : 0;
  return `${new Date(ms + shift).toISOString().slice(0, 19)}${offset ?? 'Z'}`;
}

/** The template with `$name` strings replaced; a placeholder without a value is an error in the case. */
function fill(template: unknown, values: Record<string, string | undefined>): unknown {
  if (typeof template === 'string' && template.startsWith('$')) {
    const value = values[template];
    if (value === undefined) throw new Error(`the response template needs ${template}, which the case does not give`);
    return value;
  }
  if (Array.isArray(template)) return template.map((v) => fill(v, values));
  if (typeof template === 'object' && template !== null) {
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, fill(v, values)]));
  }
  return template;
}

type Comparable = [kind: string, entryId: string | null, message: string];

/** Allergy warnings keep their order (the census's); duplicates are sorted, as the core reads them in index order. */
function normalised(warnings: Comparable[]): Comparable[] {
  const allergies = warnings.filter((w) => w[0] === 'allergy');
  const key = (w: Comparable) => w.join('\u0000');
  const others = warnings.filter((w) => w[0] !== 'allergy').sort((a, b) => key(a).localeCompare(key(b)));
  return [...allergies, ...others];
}

/** Runs one case, step for step as the Rust suite's `CaseRun::run`. */
async function run(c: Case, index: number, base: number): Promise<void> {
  const backend = new MemoryBackend({
    unit: 'Contract Unit',
    users: { [NURSE]: { displayName: NURSE, password: 'a-long-pass-12', role: 'nurse' } },
    demo: true,
    census: census(),
    signedInAs: NURSE,
  });
  const charted = new Map<string, { id: string; at: string }>();
  const request = (response: unknown, sign: boolean, answerAllergy: boolean, confirm: boolean): EntryRequest => ({
    response,
    sign,
    allergyOverride: answerAllergy ? contract.overrideReason : null,
    confirmNotDuplicate: confirm,
    reason: null,
    clinicalTime: null,
  });
  const responseFor = (form: string, patient: string, medication: string | undefined, at: string) => {
    if (!(form in contract.responses)) throw new Error(`no response template for ${form}`);
    return fill(contract.responses[form], { $mrn: patient, $time: at, $medication: medication });
  };

  const chart = async (entries: Charted[]) => {
    for (const e of entries) {
      const at = fhirTime(base + Math.round(e.minutes * 60) * 1000, e.offset);
      const response = responseFor(e.form, e.otherPatient ? OTHER_MRN : mrn(index), e.medication, at);
      const status = e.status ?? 'signed';
      if (!['signed', 'draft', 'entered-in-error'].includes(status)) {
        throw new Error(`charted ${e.key}: unknown status ${status}`);
      }
      const saved = await backend.saveEntry(request(response, status !== 'draft', true, true));
      if (status === 'entered-in-error') await backend.enterInError(saved.id, 'charted on the wrong patient');
      charted.set(e.key, { id: saved.id, at });
    }
  };
  await chart(c.charted ?? []);

  /** Whether the run reached the signature (which expects `warningsAtSigning`). */
  let signing = false;
  const expected = () =>
    normalised(
      ((signing ? c.expect.warningsAtSigning : undefined) ?? c.expect.warnings).map((w): Comparable => {
        if (w.of === undefined) return [w.kind, null, w.message];
        const other = charted.get(w.of);
        if (!other) throw new Error(`warning of unknown entry ${w.of}`);
        const message = w.message.replace('{id}', other.id).replace('{author}', NURSE).replace('{time}', other.at);
        return [w.kind, other.id, message];
      }),
    );
  const sameWarnings = (step: string, actual: SafetyWarning[]) => {
    const got = normalised(actual.map((w): Comparable => [w.kind, w.entryId, w.message]));
    expect(got, `${step}: warnings`).toEqual(expected());
  };
  /** `expectedOutcome` is "ok" or the kind of refusal (a key of `refusals`). */
  const outcome = async (step: string, call: Promise<EntrySaved>, expectedOutcome: string) => {
    if (expectedOutcome === 'ok') {
      const saved = await call.catch((e: unknown) => {
        throw new Error(`${step}: refused (${String(e)}), expected to succeed`);
      });
      sameWarnings(step, saved.warnings);
      return saved;
    }
    const refusal = contract.refusals[expectedOutcome];
    if (!refusal) throw new Error(`${step}: unknown refusal kind ${expectedOutcome}`);
    const error = await call.then(
      (saved) => {
        throw new Error(`${step}: succeeded (${saved.status}), expected the ${expectedOutcome} refusal`);
      },
      (e: unknown) => e,
    );
    expect(error, step).toBeInstanceOf(BackendError);
    expect({ code: (error as BackendError).code, message: (error as BackendError).message }, step).toEqual(refusal);
    return null;
  };
  const expectStatus = (step: string, saved: EntrySaved | null, status: EntryStatus) => {
    expect(saved?.status, `${step}: status`).toBe(status);
  };

  const { withoutOverride, withoutConfirmation } = c.expect;
  const needsOverride = withoutOverride !== 'ok';
  const needsConfirmation = withoutConfirmation !== 'ok';
  const response = responseFor(c.new.form, mrn(index), c.new.medication, fhirTime(base));
  if (c.new.changes !== undefined && c.new.amends !== undefined) {
    throw new Error('a case either changes a draft or amends an entry, not both');
  }
  const targetKey = c.new.changes ?? c.new.amends;
  const target = targetKey === undefined ? null : charted.get(targetKey)?.id;
  if (target === undefined) throw new Error(`no charted entry ${targetKey}`);

  const checked = await backend.checkEntry(request(response, false, false, false), target);
  expect(checked.findings, 'check: the response has findings').toEqual([]);
  sameWarnings('check', checked.warnings);

  if (target !== null && c.new.amends !== undefined) {
    const amend = (answerAllergy: boolean, confirm: boolean) => {
      const r = request(response, false, answerAllergy, confirm);
      return backend.amendEntry(target, { ...r, reason: 'corrected after review' });
    };
    if (needsOverride) await outcome('amend without an override reason', amend(false, true), withoutOverride);
    if (needsConfirmation) {
      await outcome('amend without confirming', amend(needsOverride, false), withoutConfirmation);
    }
    const saved = await outcome('amend with the answers asked for', amend(needsOverride, needsConfirmation), 'ok');
    expectStatus('amend', saved, 'amended');
    return;
  }

  const save = (answerAllergy: boolean) => {
    const r = request(response, false, answerAllergy, c.new.confirmOnSave ?? false);
    return target === null ? backend.saveEntry(r) : backend.updateEntry(target, r);
  };
  if (target === null) {
    // Saving and signing at once asks the same questions.
    if (needsOverride) {
      await outcome(
        'save and sign without an override reason',
        backend.saveEntry(request(response, true, false, true)),
        withoutOverride,
      );
    }
    if (needsConfirmation) {
      await outcome(
        'save and sign without confirming',
        backend.saveEntry(request(response, true, needsOverride, false)),
        withoutConfirmation,
      );
    }
  }
  let draft = await outcome('save without an override reason', save(false), withoutOverride);
  if (needsOverride) draft = await outcome('save with the override reason', save(true), 'ok');
  if (!draft) throw new Error('the draft was not saved');
  await chart(c.chartedBeforeSigning ?? []);
  signing = true;
  let signed = await outcome('sign without confirming', backend.signEntry(draft.id, false), withoutConfirmation);
  if (needsConfirmation) signed = await outcome('sign, confirming', backend.signEntry(draft.id, true), 'ok');
  expectStatus('sign', signed, 'signed');
}

describe('the safety contract (tests/contract/safety.json) against the in-memory backend', () => {
  // Two hours ago on a whole minute, as the Rust suite: every charted time stays in the past.
  const now = Date.now();
  const base = now - (now % 60_000) - 2 * 3600_000;

  it('uses the site default window, as the real backend does', () => {
    expect(contract.about.length).toBeGreaterThan(0);
    expect(emptyState().duplicateWindowMinutes).toBe(contract.duplicateWindowMinutes);
  });

  it.each(contract.cases.map((c, i) => [i + 1, c.name, c] as const))('case %i: %s', async (_n, _name, c) => {
    await run(c, contract.cases.indexOf(c), base);
  });

  it('writes times as FHIR dateTimes, as the Rust suite does', () => {
    expect(fhirTime(0)).toBe('1970-01-01T00:00:00Z');
    expect(fhirTime(1_795_255_200_000)).toBe('2026-11-21T10:00:00Z');
    expect(fhirTime(1_795_255_230_000, '-05:00')).toBe('2026-11-21T05:00:30-05:00');
  });
});
