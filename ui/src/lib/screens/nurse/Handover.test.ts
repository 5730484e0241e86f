// The handover sheet, opened from the patient chart with the keyboard alone: what it lists (notes, unsigned
// entries, since when), "Hand over" recording the handover so the sheet counts from it, and "Print handover sheet"
// going through the print path the print centre uses.
import { describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import PatientChart from './PatientChart.svelte';
import { demoBackend, form, patient } from './testing';
import type { MemoryBackend } from '../../backend/memory';

const MRN = 'DEV2013';

async function note(backend: MemoryBackend, text: string, sign: boolean) {
  const p = patient(backend, MRN);
  return backend.saveEntry({
    response: {
      resourceType: 'QuestionnaireResponse',
      questionnaire: form(backend, 'nursing-note').canonical,
      status: 'completed',
      subject: { identifier: { system: p.mrnSystem, value: p.mrn } },
      item: [
        { linkId: 'note-type', answer: [{ valueCoding: { code: 'progress', display: 'Progress note' } }] },
        { linkId: 'observed-at', answer: [{ valueDateTime: new Date().toISOString() }] },
        { linkId: 'narrative', answer: [{ valueString: text }] },
      ],
    },
    sign,
    allergyOverride: null,
    confirmNotDuplicate: true,
    reason: null,
    clinicalTime: null,
  });
}

async function openSheet() {
  const backend = demoBackend();
  await note(backend, 'Walked the corridor twice.', true);
  await note(backend, 'Family called.', false);
  const user = userEvent.setup();
  render(PatientChart, {
    backend,
    patient: patient(backend, MRN),
    onOpenForm: () => {},
    onOpenEntry: () => {},
    onBack: () => {},
  });
  await screen.findByText('Entries for this patient');
  // Keyboard only: tab to the button and press Enter.
  const button = screen.getByRole('button', { name: 'Handover sheet' });
  while (document.activeElement !== button) await user.tab();
  await user.keyboard('{Enter}');
  const section = await screen.findByRole('region', { name: 'Handover sheet' });
  await within(section).findByTestId('handover-since');
  return { backend, user, section };
}

describe('handover sheet', () => {
  it('opens from the chart by keyboard with the notes and unsigned entries since the downtime began', async () => {
    const { backend, section } = await openSheet();
    expect(screen.getByRole('heading', { name: 'Handover sheet' })).toHaveFocus();
    expect(within(section).getByTestId('handover-since')).toHaveTextContent('No handover recorded in this downtime');
    expect(within(section).getByText(/Walked the corridor twice\./)).toBeInTheDocument();
    expect(within(section).getByText(/sign it before you hand over/)).toBeInTheDocument();
    expect(backend.calls).toContain('handover');
  });

  it('records the handover, after which the sheet counts from it', async () => {
    const { backend, user, section } = await openSheet();
    await user.click(within(section).getByRole('button', { name: 'Hand over' }));
    expect(await within(section).findByText(/Handover recorded at/)).toBeInTheDocument();
    expect(within(section).getByTestId('handover-since')).toHaveTextContent(/Since the last handover, .* by /);
    expect(within(section).queryByText(/Walked the corridor twice\./)).toBeNull();
    expect(backend.calls).toContain('recordHandover');
  });

  it('prints through the print path and offers to open or print the PDF', async () => {
    const { backend, user, section } = await openSheet();
    await user.click(within(section).getByRole('button', { name: 'Print handover sheet' }));
    expect(await within(section).findByText(/Saved the handover sheet \(2 pages\)/)).toBeInTheDocument();
    expect(backend.charge.printed.at(-1)?.job).toEqual({ kind: 'handover', mrn: MRN });
    await user.click(within(section).getByRole('button', { name: 'Open the PDF' }));
    expect(await within(section).findByText('Opened the handover sheet in the PDF viewer.')).toBeInTheDocument();
  });
});
