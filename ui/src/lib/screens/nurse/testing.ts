// Helpers for the nurse screens' unit tests: a demo-unit backend signed in as a nurse, and the forms by name.
import { MemoryBackend, type MemorySeed } from '../../backend/memory';
import { formInfo } from '../../backend/memory/state';
import type { FormInfo, PatientInfo } from '../../backend';
import repeats from './fixtures/repeats.json';
import painScore from '../../../../../tests/data/forms/standard/pain-score.json';
import sdcFeatures from '../../../../../tests/data/forms/standard/sdc-features.json';

export const NURSE = { username: 'demo.nurse', password: 'demo-password' };

/** The demo unit, signed in as the demo nurse, with one test form that has repeats. */
export function demoBackend(extra: Partial<MemorySeed> = {}): MemoryBackend {
  const backend = new MemoryBackend({ unit: '5 East', users: {}, demo: true, signedInAs: 'demo.nurse', ...extra });
  backend.state.forms.push(formInfo(repeats));
  return backend;
}

/**
 * The standard pain score form written elsewhere (tests/data/forms/standard): no item holds the clinical time, so
 * the form screen asks for it. Added to `backend`'s forms.
 */
export function painForm(backend: MemoryBackend): FormInfo {
  const info = formInfo(painScore);
  backend.state.forms.push(info);
  return info;
}

/**
 * A form with the SDC features real forms use (tests/data/forms/standard/sdc-features.json, which the core also
 * loads): prefix, hidden, entryFormat, item controls, variables, a calculated BMI, an enableWhenExpression and an
 * initialExpression from %patient. Added to `backend`'s forms.
 */
export function sdcForm(backend: MemoryBackend): FormInfo {
  const info = formInfo(sdcFeatures);
  backend.state.forms.push(info);
  return info;
}

export function form(backend: MemoryBackend, id: string): FormInfo {
  const found = backend.state.forms.find((f) => f.canonical.includes(`/Questionnaire/${id}|`));
  if (!found) throw new Error(`no form ${id}`);
  return found;
}

export function patient(backend: MemoryBackend, mrn: string): PatientInfo {
  const found = backend.state.patients.find((p) => p.mrn === mrn);
  if (!found) throw new Error(`no patient ${mrn}`);
  return found;
}

/** A promise and the functions that settle it, to hold a backend call open. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
