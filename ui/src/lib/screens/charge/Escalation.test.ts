// The escalation ladder on the charge desk (issue 21 item 1), against the in-memory backend: who to call now with
// their phone numbers and the next escalation due, a call and an acknowledgement recorded from the keyboard, OVERDUE
// said in words when a level went unanswered, no file said plainly with no number shown, a broken file's problems,
// and the print button opening the print centre on the contact sheet; axe-core on the section.
import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import ChargeDesk from './ChargeDesk.svelte';
import { MemoryBackend } from '../../backend/memory';
import type { ChargeSeed } from '../../backend/memory/charge';
import type { SessionInfo } from '../../backend';

vi.setConfig({ testTimeout: 30_000 });

const session: SessionInfo = { username: 'kcharge', displayName: 'Kim Charge', role: 'charge', mustChangePassword: false };
const NOW = new Date('2026-12-07T09:10:00Z');

const episode = {
  drill: false,
  severity: 'P2' as const,
  affected: ['EHR'],
  impact: 'Results by phone only',
  reason: null,
  nextUpdateMinutes: 30,
  beganMinutesAgo: null,
  minutesAgo: 10,
};

async function desk(charge: ChargeSeed) {
  const backend = new MemoryBackend({
    unit: '5 East',
    users: { kcharge: { displayName: 'Kim Charge', password: 'pw', role: 'charge' } },
    signedIn: 'kcharge',
    charge: { now: () => NOW, ...charge },
  });
  render(ChargeDesk, { backend, session });
  const user = userEvent.setup();
  await user.click(await screen.findByRole('button', { name: 'Escalation' }));
  await screen.findByRole('heading', { name: 'Escalation' });
  return { backend, user };
}

async function axeClean() {
  const result = await axe.run(document.body, { rules: { 'color-contrast': { enabled: false } } });
  expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

const now = () => screen.getByTestId('escalation-now').textContent?.replace(/\s+/g, ' ').trim();

describe('the escalation section', () => {
  it('shows who to call now with the phones, and records a call and the acknowledgement from the keyboard', async () => {
    const { backend, user } = await desk({ episode });
    expect(await screen.findByText(/Call now: level 1, First call\./)).toBeInTheDocument();
    expect(now()).toContain('Next escalation due at 09:15 UTC without an acknowledgement.');
    expect(screen.getByText('555-0100')).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: /Level 3: Lab \(not for this outage\)/ })).toBeInTheDocument();
    await axeClean();

    const called = screen.getByRole('button', { name: 'Called IT help desk' });
    called.focus();
    await user.keyboard('{Enter}');
    expect(await screen.findByText('Call to IT help desk recorded.')).toBeInTheDocument();
    expect(now()).toContain('Level 1, First call: called, waiting for an acknowledgement.');
    expect(screen.getByText('called 09:10 UTC (recorded by kcharge)')).toBeInTheDocument();

    await user.tab();
    expect(screen.getByRole('button', { name: 'IT help desk acknowledged' })).toHaveFocus();
    await user.keyboard('{Enter}');
    expect(await screen.findByText('IT help desk acknowledged: recorded.')).toBeInTheDocument();
    expect(now()).toContain('Acknowledged by IT help desk at 09:10 UTC: no further escalation needed.');
    const st = await backend.escalationStatus();
    expect(st.acknowledged?.contact).toBe('help-desk');
    expect(await backend.draftStatusUpdate(), 'the draft for leaders names the calls, as the core does').toContain(
      'Escalation:\n  - 09:10 UTC IT help desk called (kcharge)\n  - 09:10 UTC IT help desk acknowledged (kcharge)\n',
    );
    await axeClean();

    // The episode's timeline lists both.
    await user.click(screen.getByRole('button', { name: 'Status updates' }));
    const timeline = await screen.findByTestId('timeline');
    expect(await within(timeline).findByText(/Called: IT help desk \(recorded by kcharge\)/)).toBeInTheDocument();
    expect(within(timeline).getByText(/Acknowledged: IT help desk/)).toBeInTheDocument();
  });

  it('says OVERDUE in words when a level went unanswered and nobody of the next is called', async () => {
    await desk({ episode: { ...episode, minutesAgo: 40 }, calls: [{ minutesAgo: 38, contact: 'help-desk' }] });
    expect(await screen.findByText('OVERDUE:')).toBeInTheDocument();
    expect(now()).toContain('Call now: level 4, Clinical IT and nursing informatics.');
    expect(screen.getByTestId('escalation-now')).toHaveClass('overdue');
    expect(screen.getByRole('heading', { name: /Level 1: First call \(no answer in time\)/ })).toBeInTheDocument();
  });

  it('says plainly that no file is configured and shows no number', async () => {
    await desk({ episode, escalation: null });
    expect(await screen.findByTestId('escalation-none')).toHaveTextContent('No escalation file is configured');
    expect(document.body.textContent).not.toMatch(/555-01/);
    await axeClean();
  });

  it("lists a broken file's problems, and charting goes on", async () => {
    await desk({ episode, escalation: ["escalation.json: contact 'lab': phones: no phone number; give at least one"] });
    const box = await screen.findByTestId('escalation-problems');
    expect(within(box).getByText(/contact 'lab': phones: no phone number/)).toBeInTheDocument();
    expect(box).toHaveTextContent('charting goes on');
  });

  it('prints the contact sheet from the print centre', async () => {
    const { backend, user } = await desk({});
    expect(await screen.findByText(/No downtime episode is open: the whole ladder/)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /^Called / })).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Print the contact sheet' }));
    expect(await screen.findByRole('radio', { name: /Escalation contact sheet/ })).toBeChecked();
    await user.click(screen.getByRole('button', { name: 'Save as PDF' }));
    expect(await screen.findByTestId('print-notice')).toHaveTextContent(/Saved the PDF \(1 page\)/);
    expect(backend.charge.printed.at(-1)?.job).toEqual({ kind: 'contactSheet' });
  });
});
