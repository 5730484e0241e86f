// The scan field: focused on arrival; a scanner's MRN + Enter selects that patient; an unknown MRN gets a clear
// message; typing a name filters, ignoring case and accents. And names and notes with markup stay text.
import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import PatientList from './PatientList.svelte';
import EntryView from './EntryView.svelte';
import PatientBanner from './PatientBanner.svelte';
import { demoBackend, form, patient } from './testing';
import type { PatientInfo } from '../../backend';

function mount() {
  const backend = demoBackend();
  const onSelect = vi.fn();
  render(PatientList, { backend, onSelect, onRegister: vi.fn() });
  return { backend, onSelect, user: userEvent.setup() };
}

describe('scan field', () => {
  it('is focused on arrival, and a scanned MRN plus Enter selects that patient', async () => {
    const { backend, onSelect, user } = mount();
    const scan = screen.getByLabelText(/Scan the wristband/);
    expect(scan).toHaveFocus();
    await screen.findByText('14 of 14 patients shown.');
    await user.keyboard('DEV2013{Enter}');
    await vi.waitFor(() => expect(onSelect).toHaveBeenCalledOnce());
    expect(onSelect.mock.calls[0]![0]).toMatchObject({ mrn: 'DEV2013', name: 'MÜLLER-ØSTER, Łukasz' });
    expect(backend.calls).toContain('findPatient');
  });

  it('says clearly when no patient has the scanned MRN', async () => {
    const { onSelect, user } = mount();
    await screen.findByText('14 of 14 patients shown.');
    await user.keyboard('XYZ999{Enter}');
    expect(await screen.findByTestId('scan-problem')).toHaveTextContent(
      'No patient with MRN “XYZ999” on this unit. Check the wristband',
    );
    expect(onSelect).not.toHaveBeenCalled();
  });

  it('filters by name without caring about case or accents, and Enter opens the only match', async () => {
    const { onSelect, user } = mount();
    await screen.findByText('14 of 14 patients shown.');
    await user.keyboard('muller-oster');
    expect(screen.getByText('1 of 14 patients shown.')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'MÜLLER-ØSTER, Łukasz' })).toBeInTheDocument();
    await user.clear(screen.getByLabelText(/Scan the wristband/));
    await user.keyboard('민준');
    expect(screen.getByRole('button', { name: '김, 민준' })).toBeInTheDocument();
    await user.keyboard('{Enter}');
    await vi.waitFor(() => expect(onSelect).toHaveBeenCalledOnce());
    expect(onSelect.mock.calls[0]![0]).toMatchObject({ mrn: 'DEV2014' });
  });
});

describe('XSS: user text is shown as text and runs nothing', () => {
  const PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
  const evil: PatientInfo = {
    id: 'evil',
    name: `${PAYLOAD}, Robert`,
    mrn: 'XSS1',
    mrnSystem: 'http://hospital.example.org/mrn',
    temporary: false,
    birthDate: '1970-01-01',
    gender: null,
    location: `<b onmouseover="window.__xss=3">Room 1</b>`,
    allergies: [{ substance: PAYLOAD, reaction: '<svg onload="window.__xss=4">', criticality: null }],
  };

  function noScriptRan() {
    expect(document.querySelector('img, script, svg, b')).toBeNull();
    expect((window as unknown as { __xss?: number }).__xss).toBeUndefined();
  }

  it('in the patient list and the patient banner', async () => {
    const backend = demoBackend({ patients: [evil] });
    render(PatientList, { backend, onSelect: vi.fn(), onRegister: vi.fn() });
    expect(await screen.findByRole('button', { name: `${PAYLOAD}, Robert` })).toBeInTheDocument();
    render(PatientBanner, { patient: evil });
    expect(screen.getByTestId('patient-banner')).toHaveTextContent(PAYLOAD);
    noScriptRan();
  });

  it('in a saved nursing note and its versions', async () => {
    const backend = demoBackend({ patients: [evil] });
    const note = form(backend, 'nursing-note');
    const saved = await backend.saveEntry({
      response: {
        resourceType: 'QuestionnaireResponse',
        questionnaire: note.canonical,
        status: 'completed',
        subject: { identifier: { system: evil.mrnSystem, value: evil.mrn } },
        item: [
          { linkId: 'note-type', answer: [{ valueCoding: { code: 'assessment', display: 'Assessment' } }] },
          { linkId: 'observed-at', answer: [{ valueDateTime: '2026-11-22T03:00:00Z' }] },
          { linkId: 'narrative', text: PAYLOAD, answer: [{ valueString: PAYLOAD }] },
        ],
      },
      sign: true,
      allergyOverride: null,
      confirmNotDuplicate: false,
      reason: null,
      clinicalTime: null,
    });
    render(EntryView, {
      backend,
      session: backend.state.session!,
      patient: patient(backend, 'XSS1'),
      entryId: saved.id,
      onEdit: vi.fn(),
      onBack: vi.fn(),
    });
    expect(await screen.findAllByText(PAYLOAD)).not.toHaveLength(0);
    noScriptRan();
  });
});
