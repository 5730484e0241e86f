// The MAR tab and the charge nurse's unit view against the in-memory backend: each order with its due times and what
// became of each, in words (OVERDUE, DUE NOW, Given … by …) and not colour alone; the allergies; an as-needed order's
// last dose and interval; "see order" with the order's words; keyboard only, from the patient list to charting the
// overdue dose, after which the row reads Given with the time; the unit view's overdue doses; axe-core on each.
import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import PatientChart from './PatientChart.svelte';
import NurseDesk from './NurseDesk.svelte';
import ChargeDesk from '../charge/ChargeDesk.svelte';
import { marBackend } from './marFixture';
import { demoBackend, patient } from './testing';

// Typing whole forms takes seconds on a loaded 2-core machine; the default 5 s is for unit logic, not for this.
vi.setConfig({ testTimeout: 30_000 });

async function axeClean(container: HTMLElement = document.body) {
  // jsdom cannot compute colours; Chromium's run in the gallery checks contrast.
  const result = await axe.run(container, { rules: { 'color-contrast': { enabled: false } } });
  expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

function order(medication: string): HTMLElement {
  const found = screen.getAllByTestId('mar-order').find((t) => t.getAttribute('data-medication')?.startsWith(medication));
  if (!found) throw new Error(`no order ${medication}`);
  return found;
}

const noop = () => {};

describe('MAR tab', () => {
  it('shows each order with its due times: overdue and given in words, as needed with its last dose, allergies', async () => {
    const backend = await marBackend();
    render(PatientChart, { backend, patient: patient(backend, 'DEV2003'), tab: 'mar', onOpenForm: noop, onOpenEntry: noop, onBack: noop });
    expect(await screen.findByTestId('mar-summary')).toHaveTextContent('⚠ 1 overdue');
    expect(screen.getByTestId('mar-allergies')).toHaveTextContent('No allergies in the census snapshot');

    const metoprolol = within(order('Metoprolol')).getAllByTestId('mar-row');
    expect(metoprolol[0]).toHaveAttribute('data-status', 'overdue');
    expect(metoprolol[0]).toHaveTextContent('⚠ OVERDUE');
    expect(metoprolol[0]).toHaveTextContent('22 Nov 2026 09:00');
    expect(within(metoprolol[0]!).getByRole('button', { name: /Chart Metoprolol Tartrate 25 MG Oral Tablet, overdue/ })).toBeInTheDocument();

    const amlodipine = within(order('Amlodipine')).getAllByTestId('mar-row');
    expect(amlodipine[0]).toHaveAttribute('data-status', 'given');
    expect(amlodipine[0]).toHaveTextContent('✓ Given');
    expect(amlodipine[0]).toHaveTextContent('Given 22 Nov 2026 09:10 by demo.nurse');
    expect(within(amlodipine[0]!).queryByRole('button')).toBeNull();

    const prn = order('Acetaminophen');
    expect(prn).toHaveTextContent('As needed, at least 6 h apart');
    expect(prn).toHaveTextContent('Last dose 22 Nov 2026 05:30');
    expect(prn).toHaveTextContent('Not before 22 Nov 2026 11:30');
    await axeClean();
  });

  it('shows an order whose timing cannot be scheduled as "see order" with the order\u2019s words', async () => {
    const backend = await marBackend();
    render(PatientChart, { backend, patient: patient(backend, 'DEV2002'), tab: 'mar', onOpenForm: noop, onOpenEntry: noop, onBack: noop });
    await screen.findByTestId('mar-summary');
    const insulin = order('Insulin lispro');
    expect(insulin).toHaveTextContent('See order: 4 [iU] Subcutaneous before meals per sliding scale');
    expect(within(insulin).queryByRole('button')).toBeNull();
    await axeClean();
  });

  it('keyboard only: scan, open the MAR, chart the overdue dose from its row; the row then reads Given with the time', async () => {
    const backend = demoBackend();
    const user = userEvent.setup();
    render(NurseDesk, { backend, session: { username: 'demo.nurse', displayName: 'Demo Nurse', role: 'nurse', mustChangePassword: false } });
    await screen.findByText('14 of 14 patients shown.');
    await user.keyboard('DEV2003{Enter}');
    const tab = await screen.findByRole('button', { name: 'MAR' });
    tab.focus();
    await user.keyboard('{Enter}');
    const chart = await screen.findByRole('button', { name: /Chart Metoprolol Tartrate 25 MG Oral Tablet, overdue/ });
    expect(tab).toHaveAttribute('aria-pressed', 'true');
    await axeClean();
    chart.focus();
    await user.keyboard('{Enter}');

    // Pre-filled from the order; the time given is left for the nurse.
    expect(await screen.findByTestId('dose-context')).toHaveTextContent(/Charting the Metoprolol Tartrate 25 MG Oral Tablet dose due .* OVERDUE/);
    // The form's own "metoprolol" choice: the core matches it to the order by name.
    expect(screen.getByRole('radio', { name: 'metoprolol' })).toBeChecked();
    expect(document.querySelector<HTMLInputElement>('#q-dose-0')?.value).toBe('25');
    expect(screen.getByRole('radio', { name: 'Oral route' })).toBeChecked();
    const time = document.querySelector<HTMLInputElement>('[data-link-id="time-given"] input');
    expect(time?.value).toBe('');
    screen.getByRole('button', { name: /Now for Time given/ }).focus();
    await user.keyboard('{Enter}');
    expect(time?.value).not.toBe('');
    screen.getByRole('radio', { name: 'Given' }).focus();
    await user.keyboard(' ');
    document.querySelector<HTMLButtonElement>('#form-save')?.focus();
    await user.keyboard('{Enter}');
    await screen.findByText(/Saved on this workstation at/);
    document.querySelector<HTMLButtonElement>('#form-sign')?.focus();
    await user.keyboard('{Enter}');
    await screen.findByText(/Signed on this workstation at/);
    screen.getByRole('button', { name: 'Back to patient' }).focus();
    await user.keyboard('{Enter}');

    // Back on the MAR: the overdue row is now given, with the time and who.
    await screen.findByTestId('mar-summary');
    const row = within(order('Metoprolol')).getAllByTestId('mar-row')[0]!;
    expect(row).toHaveAttribute('data-status', 'given');
    expect(row).toHaveTextContent(/Given \d+ \w+ \d{4} \d\d:\d\d by demo\.nurse/);
    // No dose of this order is left overdue (another order's may be, by the time of day: the demo's outage began three
    // hours before now, so a 09:00 dose is overdue from 10:00 to 12:00).
    expect(within(order('Metoprolol')).getAllByTestId('mar-row').filter((r) => r.dataset.status === 'overdue')).toEqual([]);
  });
});

describe('charge desk: overdue doses on the unit', () => {
  it('lists every patient\u2019s overdue doses with the patient, the medication and when it was due', async () => {
    const backend = await marBackend('demo.charge');
    const user = userEvent.setup();
    render(ChargeDesk, { backend, session: { username: 'demo.charge', displayName: 'Demo Charge Nurse', role: 'charge', mustChangePassword: false } });
    const section = await screen.findByRole('button', { name: 'Overdue doses' });
    section.focus();
    await user.keyboard('{Enter}');
    const rows = await screen.findAllByTestId('overdue-dose');
    const okafor = rows.find((r) => r.getAttribute('data-mrn') === 'DEV2003');
    expect(okafor).toHaveTextContent('OVERDUE since 22 Nov 2026 09:00');
    expect(okafor).toHaveTextContent('OKAFOR, Chidi');
    expect(okafor).toHaveTextContent('Metoprolol Tartrate 25 MG Oral Tablet, 25 mg, Oral');
    expect(screen.getByRole('status')).toHaveTextContent(/⚠ \d+ overdue dose/);
    await axeClean();
  });
});
