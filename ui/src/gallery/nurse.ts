// Gallery entries of the nurse's path: the whole app signed in as a nurse, patient list, registration, patient
// chart, forms (empty, with findings, with an allergy warning, with repeats, saved, and one written elsewhere that
// asks "When did this happen?", one with SDC item controls and expressions), an entry with versions, and the
// read-only vault.
import { mount } from 'svelte';
import App from '../App.svelte';
import Banner from '../lib/Banner.svelte';
import PatientList from '../lib/screens/nurse/PatientList.svelte';
import Registration from '../lib/screens/nurse/Registration.svelte';
import PatientChart from '../lib/screens/nurse/PatientChart.svelte';
import Handover from '../lib/screens/nurse/Handover.svelte';
import FormScreen from '../lib/screens/nurse/FormScreen.svelte';
import EntryView from '../lib/screens/nurse/EntryView.svelte';
import type { MemoryBackend } from '../lib/backend/memory';
import { formInfo } from '../lib/backend/memory/state';
import type { FormInfo, PatientInfo } from '../lib/backend';
import repeats from '../lib/screens/nurse/fixtures/repeats.json';
import painScore from '../../../tests/data/forms/standard/pain-score.json';
import sdcFeatures from '../../../tests/data/forms/standard/sdc-features.json';
import { demo, settled } from './session';
import type { GalleryEntry } from './types';

const noop = () => {};

function formOf(backend: MemoryBackend, id: string): FormInfo {
  const found = backend.state.forms.find((f) => f.canonical.includes(`/Questionnaire/${id}|`));
  if (!found) throw new Error(`no form ${id}`);
  return found;
}

function patientOf(backend: MemoryBackend, mrn: string): PatientInfo {
  const found = backend.state.patients.find((p) => p.mrn === mrn);
  if (!found) throw new Error(`no patient ${mrn}`);
  return found;
}

/** A signed medication administration and an amended nursing note for DEV2013, so lists and versions have rows. */
async function chart(backend: MemoryBackend): Promise<string> {
  const p = patientOf(backend, 'DEV2013');
  const subject = { identifier: { system: p.mrnSystem, value: p.mrn } };
  const med = await backend.saveEntry({
    response: {
      resourceType: 'QuestionnaireResponse',
      questionnaire: formOf(backend, 'medication-administration').canonical,
      status: 'completed',
      subject,
      item: [
        { linkId: 'medication', answer: [{ valueCoding: { code: '7052', display: 'morphine' } }] },
        { linkId: 'dose', answer: [{ valueQuantity: { value: 2, unit: 'mg', code: 'mg' } }] },
        { linkId: 'route', answer: [{ valueCoding: { code: '47625008', display: 'Intravenous route' } }] },
        { linkId: 'time-given', answer: [{ valueDateTime: '2026-11-22T02:10:00Z' }] },
        { linkId: 'outcome', answer: [{ valueCoding: { code: 'completed', display: 'Given' } }] },
      ],
    },
    sign: true,
    allergyOverride: null,
    confirmNotDuplicate: false,
    reason: null,
    clinicalTime: null,
  });
  const note = {
    resourceType: 'QuestionnaireResponse',
    questionnaire: formOf(backend, 'nursing-note').canonical,
    status: 'completed',
    subject,
    item: [
      { linkId: 'note-type', answer: [{ valueCoding: { code: 'assessment', display: 'Assessment' } }] },
      { linkId: 'observed-at', answer: [{ valueDateTime: '2026-11-22T02:30:00Z' }] },
      { linkId: 'narrative', answer: [{ valueString: 'Łukasz resting; pain 2/10 after morphine.' }] },
    ],
  };
  const saved = await backend.saveEntry({ response: note, sign: true, allergyOverride: null, confirmNotDuplicate: false, reason: null, clinicalTime: null });
  await backend.amendEntry(saved.id, {
    response: note,
    sign: true,
    allergyOverride: null,
    confirmNotDuplicate: false,
    reason: 'time of observation corrected',
    clinicalTime: null,
  });
  return med.id;
}

/** Vitals from before the downtime's episode, a signed note and a draft since, for DEV2013, so the handover sheet has rows. */
async function handoverCharting(backend: MemoryBackend): Promise<void> {
  const p = patientOf(backend, 'DEV2013');
  const subject = { identifier: { system: p.mrnSystem, value: p.mrn } };
  const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();
  const save = (form: string, item: unknown[], sign: boolean) =>
    backend.saveEntry({
      response: { resourceType: 'QuestionnaireResponse', questionnaire: formOf(backend, form).canonical, status: 'completed', subject, item },
      sign,
      allergyOverride: null,
      confirmNotDuplicate: true,
      reason: null,
      clinicalTime: null,
    });
  await save(
    'vital-signs',
    [
      { linkId: 'measured-at', answer: [{ valueDateTime: ago(40) }] },
      { linkId: 'heart-rate', answer: [{ valueInteger: 92 }] },
      { linkId: 'resp-rate', answer: [{ valueInteger: 18 }] },
      { linkId: 'temperature', answer: [{ valueDecimal: 37.9 }] },
      { linkId: 'spo2', answer: [{ valueInteger: 95 }] },
    ],
    true,
  );
  const note = (minutes: number, text: string) => [
    { linkId: 'note-type', answer: [{ valueCoding: { code: 'progress', display: 'Progress note' } }] },
    { linkId: 'observed-at', answer: [{ valueDateTime: ago(minutes) }] },
    { linkId: 'narrative', answer: [{ valueString: text }] },
  ];
  await save('nursing-note', note(0, 'Łukasz febrile 37.9; oral fluids encouraged, doctor informed.'), true);
  await save('nursing-note', note(0, 'Son phoned; update given.'), false);
}

function formEntry(name: string, title: string, formId: string, mrn: string, after?: (target: HTMLElement) => Promise<void>): GalleryEntry {
  return {
    name,
    title,
    async mount(target) {
      const backend = demo('demo.nurse');
      if (formId === 'test-repeats') backend.state.forms.push(formInfo(repeats));
      if (formId === 'pain-score') backend.state.forms.push(formInfo(painScore));
      if (formId === 'test-sdc-features') backend.state.forms.push(formInfo(sdcFeatures));
      mount(FormScreen, { target, props: { backend, patient: patientOf(backend, mrn), form: formOf(backend, formId), onClose: noop } });
      await settled(target, 'form.form-body');
      await after?.(target);
    },
  };
}

function click(target: HTMLElement, selector: string) {
  const element = target.querySelector<HTMLElement>(selector);
  if (!element) throw new Error(`${selector} is not on screen`);
  element.click();
}

function choose(target: HTMLElement, label: string) {
  const input = [...target.querySelectorAll<HTMLLabelElement>('label.target')].find((l) => l.textContent?.trim() === label)?.querySelector('input');
  if (!input) throw new Error(`no choice ${label}`);
  input.click();
}

function type(target: HTMLElement, selector: string, text: string) {
  const input = target.querySelector<HTMLInputElement>(selector);
  if (!input) throw new Error(`${selector} is not on screen`);
  input.value = text;
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

export const entries: GalleryEntry[] = [
  {
    name: 'nurse-app',
    title: 'The whole app: a nurse signed in (banner, patient list)',
    async mount(target) {
      mount(App, { target, props: { backend: demo('demo.nurse') } });
      await settled(target, '[data-testid="banner-last-save"]');
      await settled(target, 'tbody tr');
    },
  },
  {
    name: 'nurse-banner-read-only',
    title: 'DOWNTIME banner on a read-only vault, after a failed save',
    async mount(target) {
      mount(Banner, {
        target,
        props: {
          unit: '5 East',
          session: { username: 'demo.nurse', displayName: 'Demo Nurse', role: 'nurse', mustChangePassword: false },
          status: {
            unit: '5 East',
            episode: { id: 'e', kind: 'real', startedAt: '2026-11-22T01:00:00Z', startedBy: 'demo.charge', severity: 'P1', reason: 'EHR down', commander: 'Dana Ruiz', liaison: null },
            snapshotTime: '2026-11-21T23:00:00Z',
            lastSave: { durable: false, storedAt: null },
            backup: {
              lastAt: '2026-11-21T20:00:00Z',
              lastFolder: '/media/usb/dtk',
              overdue: true,
              running: false,
              failure: 'the backup folder /media/usb/dtk is not there (is the USB stick plugged in, the share mounted?)',
              intervalHours: 4,
            },
            readOnly: true,
            idleTimeoutSecs: 300,
          },
        },
      });
      await settled(target, '[data-testid="banner-read-only"]');
    },
  },
  {
    name: 'nurse-patient-list',
    title: 'Patient list with the scan field',
    async mount(target) {
      mount(PatientList, { target, props: { backend: demo('demo.nurse'), onSelect: noop, onRegister: noop } });
      await settled(target, 'tbody tr');
    },
  },
  {
    name: 'nurse-patient-list-unknown',
    title: 'Patient list: an MRN that matches nobody',
    async mount(target) {
      mount(PatientList, { target, props: { backend: demo('demo.nurse'), onSelect: noop, onRegister: noop } });
      await settled(target, 'tbody tr');
      type(target, '#scan-field', 'XYZ999');
      target.querySelector('form')?.requestSubmit();
      await settled(target, '[data-testid="scan-problem"]');
    },
  },
  {
    name: 'nurse-registration',
    title: 'Downtime registration of a new patient',
    async mount(target) {
      mount(Registration, { target, props: { backend: demo('demo.nurse'), onRegistered: noop, onCancel: noop } });
      await settled(target, 'form');
    },
  },
  {
    name: 'nurse-chart',
    title: 'Patient chart: form picker and entries',
    async mount(target) {
      const backend = demo('demo.nurse');
      await chart(backend);
      mount(PatientChart, { target, props: { backend, patient: patientOf(backend, 'DEV2013'), onOpenForm: noop, onOpenEntry: noop, onBack: noop } });
      await settled(target, 'tbody tr');
    },
  },
  {
    name: 'nurse-handover',
    title: 'Handover sheet: vitals, doses, notes and unsigned entries since the last handover',
    async mount(target) {
      const backend = demo('demo.nurse');
      await handoverCharting(backend);
      mount(Handover, { target, props: { backend, patient: patientOf(backend, 'DEV2013'), onClose: noop } });
      await settled(target, '[data-testid="handover-since"]');
    },
  },
  formEntry('nurse-form-medication', 'Form: medication administration (empty)', 'medication-administration', 'DEV2003'),
  formEntry('nurse-form-findings', 'Form: validation findings beside the fields', 'medication-administration', 'DEV2003', async (target) => {
    click(target, '#form-save');
    await settled(target, '[data-testid="finding-medication"]');
  }),
  formEntry('nurse-form-allergy', 'Form: allergy warning asks for an override reason', 'medication-administration', 'DEV2013', async (target) => {
    type(target, 'input[id$="medication-0-other"]', 'penicillin V');
    type(target, 'input[id^="q-dose-0"]', '500');
    choose(target, 'Oral route');
    choose(target, 'Given');
    click(target, 'button.small');
    click(target, '#form-save');
    await settled(target, '#allergy-override');
  }),
  formEntry('nurse-form-saved', 'Form: saved, with the stored time, ready to sign', 'nursing-note', 'DEV2014', async (target) => {
    choose(target, 'Assessment');
    click(target, 'button.small');
    type(target, 'textarea', '민준 resting comfortably.');
    click(target, '#form-save');
    await settled(target, '[data-testid="save-confirmation"]');
  }),
  formEntry('nurse-form-asks-time', 'Form written elsewhere: "When did this happen?" above it', 'pain-score', 'DEV2001'),
  formEntry('nurse-form-asks-time-missing', 'Form written elsewhere: saved without the time', 'pain-score', 'DEV2001', async (target) => {
    type(target, 'input[id^="q-pain-score"]', '6');
    click(target, '#form-save');
    await settled(target, '[data-testid="finding-clinical-time"]');
  }),
  formEntry('nurse-form-sdc', 'Form written elsewhere: SDC controls, a calculated BMI, an item turned on by expression', 'test-sdc-features', 'DEV2001', async (target) => {
    type(target, '[data-link-id="weight"] input', '104');
    type(target, '[data-link-id="height"] input', '1.8');
    choose(target, 'Chest');
    await settled(target, '[data-link-id="obesity-advice"]');
  }),
  formEntry('nurse-form-vitals', 'Form: vital signs (groups, units, enableWhen)', 'vital-signs', 'DEV2001'),
  formEntry('nurse-form-repeats', 'Form: repeating group and repeating answers', 'test-repeats', 'DEV2001', async (target) => {
    click(target, '.group > button.small');
    await settled(target, '.instance + .instance');
  }),
  formEntry('nurse-form-leave', 'Form: leaving with unsaved answers asks first', 'nursing-note', 'DEV2001', async (target) => {
    type(target, 'textarea', 'Half written');
    click(target, '.form-head button');
    await settled(target, '[role="alertdialog"]');
  }),
  {
    name: 'nurse-entry-versions',
    title: 'An entry with its versions (signed, amendable)',
    async mount(target) {
      const backend = demo('demo.nurse');
      const id = await chart(backend);
      const notes = [...backend.state.entries.values()].filter((e) => e.summary.id !== id);
      mount(EntryView, {
        target,
        props: {
          backend,
          session: backend.state.session!,
          patient: patientOf(backend, 'DEV2013'),
          entryId: notes[0]!.summary.id,
          onEdit: noop,
          onBack: noop,
        },
      });
      await settled(target, '.versions li');
    },
  },
];
