// The form renderer and the form screen: enableWhen (live), repeats, units, validation findings beside each field,
// the unsaved-changes guard, a save confirmation that appears only once the backend has resolved, and "When did this
// happen?" above a form with no item for the clinical time.
import { describe, expect, it, vi } from 'vitest';
import axe from 'axe-core';
import { fireEvent, render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import FormScreen from './FormScreen.svelte';
import { BackendError, type EntrySaved } from '../../backend';
import { toFhirDateTime } from '../../forms/questionnaire';
import { deferred, demoBackend, form, painForm, patient } from './testing';

function mount(formId: string, mrn = 'DEV2003') {
  const backend = demoBackend();
  const onClose = vi.fn();
  render(FormScreen, { backend, patient: patient(backend, mrn), form: form(backend, formId), onClose });
  return { backend, onClose, user: userEvent.setup() };
}

const field = (linkId: string) => document.querySelector(`[data-link-id="${linkId}"]`) as HTMLElement | null;

async function fillMedication(user: ReturnType<typeof userEvent.setup>) {
  await user.click(screen.getByRole('radio', { name: 'morphine' }));
  await user.type(screen.getByLabelText(/^Dose/), '2');
  await user.click(screen.getByRole('radio', { name: 'Intravenous route' }));
  await user.click(screen.getByRole('button', { name: /^Now/ }));
  await user.click(screen.getByRole('radio', { name: 'Given' }));
}

describe('form renderer', () => {
  it('shows and hides items live as enableWhen answers change', async () => {
    const { user } = mount('medication-administration');
    expect(field('not-given-reason')).toBeNull();
    expect(field('prn')).toBeNull();

    await user.click(screen.getByRole('radio', { name: 'Not given (held or refused)' }));
    expect(field('not-given-reason')).not.toBeNull();
    expect(field('prn')).toBeNull();

    await user.click(screen.getByRole('radio', { name: 'Given' }));
    expect(field('not-given-reason')).toBeNull();
    const prn = field('prn');
    expect(prn).not.toBeNull();
    expect(field('prn-reason')).toBeNull();
    await user.click(within(prn!).getByRole('radio', { name: 'Yes' }));
    expect(field('prn-reason')).not.toBeNull();
    await user.click(within(field('prn')!).getByRole('radio', { name: 'No' }));
    expect(field('prn-reason')).toBeNull();
  });

  it('evaluates enableWhen inside each instance of a repeating group, and adds and removes instances', async () => {
    const { user } = mount('test-repeats');
    expect(screen.getAllByLabelText(/^Site/)).toHaveLength(1);
    await user.click(screen.getByRole('button', { name: 'Add another Wound' }));
    expect(screen.getAllByLabelText(/^Site/)).toHaveLength(2);
    expect(screen.getByText('Wound 2')).toBeInTheDocument();

    // A drain in the second wound only: its output shows in that instance alone.
    const drains = screen.getAllByRole('group', { name: 'Drain in place' });
    await user.click(within(drains[1]!).getByRole('radio', { name: 'Yes' }));
    expect(screen.getAllByLabelText('Drain output')).toHaveLength(1);

    await user.click(screen.getByRole('button', { name: 'Remove Wound 1' }));
    expect(screen.getAllByLabelText(/^Site/)).toHaveLength(1);
    expect(screen.getAllByLabelText('Drain output')).toHaveLength(1);

    // A repeating question gets more answers.
    await user.click(screen.getByRole('button', { name: 'Add another answer to Dressing used' }));
    expect(screen.getAllByLabelText(/^Dressing used/)).toHaveLength(2);
    // Units are shown beside the number.
    expect(within(field('wound-length')!).getByText('cm')).toBeInTheDocument();
  });

  it('sends each repeating group instance as its own item', async () => {
    const { backend, user } = mount('test-repeats');
    await user.click(screen.getByRole('button', { name: /^Now/ }));
    await user.type(screen.getAllByLabelText(/^Site/)[0]!, 'left heel');
    await user.click(screen.getByRole('button', { name: 'Add another Wound' }));
    await user.type(screen.getAllByLabelText(/^Site/)[1]!, 'sacrum');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByTestId('save-confirmation');
    const entry = [...backend.state.entries.values()][0]!;
    const items = (entry.versions[0]!.response as { item: { linkId: string }[] }).item;
    expect(items.filter((i) => i.linkId === 'wound')).toHaveLength(2);
  });

  it('shows validation findings next to each field, by linkId', async () => {
    const { backend, user } = mount('medication-administration');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    // Required answers left empty: the screen tells at once, in the core's words (tests/contract/forms.json).
    expect(await screen.findByTestId('finding-medication')).toHaveTextContent('Required.');
    expect(screen.getByTestId('finding-dose')).toHaveTextContent('Required.');
    expect(field('medication')).toContainElement(screen.getByTestId('finding-medication'));
    expect(backend.calls).not.toContain('checkEntry');
    expect(backend.calls).not.toContain('saveEntry');

    // A value the field cannot hold is caught beside it before the core is asked.
    await user.type(screen.getByLabelText(/^Dose/), 'two');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByTestId('finding-dose')).toHaveTextContent('Enter an amount');
    // The core's range check also lands beside its field.
    await user.clear(screen.getByLabelText(/^Dose/));
    await user.type(screen.getByLabelText(/^Dose/), '999999');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByTestId('finding-dose')).toHaveTextContent('Above the maximum of 10000.');
    expect(screen.getByLabelText(/^Dose/)).toHaveAttribute('aria-invalid', 'true');
  });
});

describe('save, sign, warnings', () => {
  it('names the stored time only after the backend resolves the save, then signs', async () => {
    const { backend, user } = mount('medication-administration');
    const held = deferred<EntrySaved>();
    const save = backend.saveEntry.bind(backend);
    backend.saveEntry = async (request) => {
      const result = await save(request);
      held.promise.catch(() => {});
      await held.promise;
      return result;
    };
    await fillMedication(user);
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByRole('button', { name: 'Saving…' })).toBeDisabled();
    expect(screen.queryByTestId('save-confirmation')).toBeNull();
    held.resolve(undefined as never);
    const confirmation = await screen.findByTestId('save-confirmation');
    expect(confirmation).toHaveTextContent(/Saved on this workstation at \d\d:\d\d:\d\d\./);

    await user.click(screen.getByRole('button', { name: 'Sign this entry' }));
    expect(await screen.findByTestId('save-confirmation')).toHaveTextContent(/Signed on this workstation at/);
    expect([...backend.state.entries.values()][0]!.summary.status).toBe('signed');
  });

  it('never claims a save that failed (read-only vault)', async () => {
    const { backend, user } = mount('medication-administration');
    backend.state.failWrites = 'read_only';
    await fillMedication(user);
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByTestId('form-problem')).toHaveTextContent('Nothing new was saved');
    expect(screen.queryByTestId('save-confirmation')).toBeNull();
    expect(backend.state.lastSave).toEqual({ durable: false, storedAt: null });
  });

  it('asks for an override reason when the medication matches an allergy', async () => {
    const { backend, user } = mount('medication-administration', 'DEV2013');
    await fillMedication(user);
    await user.click(screen.getByRole('radio', { name: 'morphine' }));
    await user.type(screen.getByLabelText('Other (type it)'), 'penicillin V');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByTestId('safety-warnings')).toHaveTextContent('ALLERGY');
    expect(backend.calls).not.toContain('saveEntry');
    await user.type(screen.getByLabelText('Reason for giving it despite the allergy'), 'prescriber confirmed');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByTestId('save-confirmation')).toBeInTheDocument();
  });

  it('passes a core failure on by its code', async () => {
    const { backend, user } = mount('nursing-note');
    backend.checkEntry = async () => {
      throw new BackendError('no_episode', 'no downtime episode');
    };
    await user.click(screen.getByRole('radio', { name: /^Assessment/ }));
    await user.click(screen.getByRole('button', { name: /^Now/ }));
    await user.type(screen.getByLabelText(/^Note/), 'Patient resting.');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(await screen.findByTestId('form-problem')).toHaveTextContent('The charge nurse starts one.');
  });
});

describe('unsaved-changes guard', () => {
  it('leaves at once when nothing was typed', async () => {
    const { onClose, user } = mount('nursing-note');
    await user.click(screen.getByRole('button', { name: 'Back to patient' }));
    expect(onClose).toHaveBeenCalledOnce();
  });

  it('asks before leaving unsaved answers; staying keeps them, leaving discards them', async () => {
    const { onClose, user } = mount('nursing-note');
    await user.type(screen.getByLabelText(/^Note/), 'Patient resting.');
    await user.click(screen.getByRole('button', { name: 'Back to patient' }));
    const dialog = screen.getByRole('alertdialog', { name: 'Leave without saving?' });
    expect(onClose).not.toHaveBeenCalled();
    await user.click(within(dialog).getByRole('button', { name: 'Stay on the form' }));
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(screen.getByLabelText(/^Note/)).toHaveValue('Patient resting.');

    await user.click(screen.getByRole('button', { name: 'Back to patient' }));
    await user.click(screen.getByRole('button', { name: 'Leave and discard' }));
    expect(onClose).toHaveBeenCalledOnce();
  });

  it('does not ask once the answers are saved', async () => {
    const { onClose, user } = mount('medication-administration');
    await fillMedication(user);
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByTestId('save-confirmation');
    await user.click(screen.getByRole('button', { name: 'Back to patient' }));
    expect(onClose).toHaveBeenCalledOnce();
  });
});

describe('a form with no item for the clinical time (written elsewhere)', () => {
  function mountPain() {
    const backend = demoBackend();
    const info = painForm(backend);
    const { container } = render(FormScreen, { backend, patient: patient(backend, 'DEV2001'), form: info, onClose: vi.fn() });
    return { backend, container, user: userEvent.setup() };
  }

  const timeField = () => screen.getByLabelText(/When did this happen\?/) as HTMLInputElement;

  async function axeViolations(container: HTMLElement): Promise<string[]> {
    const result = await axe.run(container, { rules: { 'color-contrast': { enabled: false } } });
    return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }

  it('asks "When did this happen?" first, will not save without it, and takes it from the keyboard', async () => {
    const { backend, container, user } = mountPain();
    const time = timeField();
    expect(time).toHaveAttribute('type', 'datetime-local');
    expect(time).toHaveAttribute('aria-required', 'true');
    const score = screen.getByLabelText(/^Pain score \(0 = no pain/);
    expect(time.compareDocumentPosition(score) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    expect(await axeViolations(container)).toEqual([]);

    await user.type(score, '6');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(screen.getByTestId('finding-clinical-time')).toHaveTextContent('When did this happen? is required');
    expect(time).toHaveAttribute('aria-invalid', 'true');
    expect(backend.state.entries.size).toBe(0);
    expect(await axeViolations(container)).toEqual([]);

    // Keyboard only: from the field, Tab reaches "Now", and Enter sets it.
    time.focus();
    await user.tab();
    expect(document.activeElement).toBe(screen.getByRole('button', { name: /^Now/ }));
    await user.keyboard('{Enter}');
    expect(time.value).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/);
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByTestId('save-confirmation');
    const [entry] = [...backend.state.entries.values()];
    expect(entry?.summary.clinicalTime).toBe(toFhirDateTime(time.value));
    expect(entry?.versions[0]?.clinicalTime).toBe(toFhirDateTime(time.value));

    // Signing the draft keeps the time it was saved with.
    await user.click(screen.getByRole('button', { name: 'Sign this entry' }));
    await screen.findByText(/^Signed on this workstation/);
    expect(entry?.summary.status).toBe('signed');
  });

  it('sends the time typed as a FHIR dateTime with its offset', async () => {
    const { backend, user } = mountPain();
    await fireEvent.input(timeField(), { target: { value: '2026-11-21T09:40' } });
    await user.type(screen.getByLabelText(/^Pain score \(0 = no pain/), '4');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByTestId('save-confirmation');
    const [entry] = [...backend.state.entries.values()];
    expect(entry?.summary.clinicalTime).toBe(toFhirDateTime('2026-11-21T09:40'));
    expect(entry?.summary.clinicalTime).toMatch(/^2026-11-21T09:40:00([+-]\d{2}:\d{2})$/);
  });

  it('is not asked on a form whose item holds the time', () => {
    mount('vital-signs');
    expect(screen.queryByLabelText(/When did this happen\?/)).toBeNull();
  });
});
