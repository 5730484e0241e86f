// The MAR's test and gallery fixture: the demo unit on a fixed clock (11:00 local, so the practice downtime began at
// 08:00), with Okafor's 09:00 amlodipine charted as given at 09:10. Okafor (DEV2003) then has a metoprolol dose
// overdue (due 09:00), a given dose, an as-needed acetaminophen and a bedtime simvastatin; Nguyen (DEV2002) has an
// insulin sliding scale the MAR cannot schedule ("see order").
import { MemoryBackend } from '../../backend/memory';
import { loadDemoUnit } from '../../backend/memory/state';

/** 11:00 on 22 November 2026, local time. */
export const MAR_NOW = new Date(2026, 10, 22, 11, 0);

/** The demo unit at `MAR_NOW`, signed in as `who`, with Okafor's amlodipine given at 09:10 when `charted`. */
export async function marBackend(who = 'demo.nurse', charted = true): Promise<MemoryBackend> {
  const backend = new MemoryBackend({ unit: '5 East', users: {} });
  backend.state.now = () => MAR_NOW;
  loadDemoUnit(backend.state);
  const user = backend.state.users.get(who);
  if (user) backend.state.session = { username: who, displayName: user.displayName, role: user.role, mustChangePassword: false };
  if (charted) await chartOralDose(backend, 'DEV2003', 'Amlodipine 5 MG Oral Tablet', 5, new Date(2026, 10, 22, 9, 10).toISOString());
  return backend;
}

/** Charts and signs an oral dose of `mg` milligrams of `medication` for `mrn`, given at `givenAt` (ISO instant). */
export async function chartOralDose(backend: MemoryBackend, mrn: string, medication: string, mg: number, givenAt: string) {
  const canonical = backend.state.forms.find((f) => f.canonical.includes('/medication-administration|'))?.canonical ?? '';
  await backend.saveEntry({
    response: {
      resourceType: 'QuestionnaireResponse',
      questionnaire: canonical,
      status: 'completed',
      subject: { identifier: { system: 'http://hospital.example.org/mrn', value: mrn } },
      item: [
        { linkId: 'medication', answer: [{ valueString: medication }] },
        { linkId: 'dose', answer: [{ valueQuantity: { value: mg, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } }] },
        { linkId: 'route', answer: [{ valueCoding: { system: 'http://snomed.info/sct', code: '26643006', display: 'Oral route' } }] },
        { linkId: 'time-given', answer: [{ valueDateTime: givenAt }] },
        { linkId: 'outcome', answer: [{ valueCoding: { code: 'completed', display: 'Given' } }] },
      ],
    },
    sign: true,
    allergyOverride: null,
    confirmNotDuplicate: false,
    reason: null,
    clinicalTime: null,
  });
}
