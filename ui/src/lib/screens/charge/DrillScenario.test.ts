// Drill scenarios on the charge desk (issue 21 item 7), against the in-memory backend: a drill started from a
// scenario chosen with the keyboard, its injects appearing at their minute newest first and marked DRILL (the next
// one's time shown, never its text), an inject marked seen from the keyboard, the score; axe-core on each state.
import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import ChargeDesk from './ChargeDesk.svelte';
import { MemoryBackend } from '../../backend/memory';
import type { SessionInfo } from '../../backend';

vi.setConfig({ testTimeout: 30_000 });

const session: SessionInfo = { username: 'kcharge', displayName: 'Kim Charge', role: 'charge', mustChangePassword: false };

async function axeClean(container: HTMLElement = document.body) {
  // jsdom cannot compute colours; Chromium's run in the gallery checks contrast.
  const result = await axe.run(container, { rules: { 'color-contrast': { enabled: false } } });
  expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

const injects = () =>
  within(screen.getByTestId('inject-list'))
    .getAllByRole('listitem')
    .map((li) => li.textContent?.replace(/\s+/g, ' ').trim());

describe('the drill scenario section', () => {
  it('starts a drill from the built-in scenario chosen with the keyboard; injects arrive at their minute and are marked seen', async () => {
    let now = new Date('2026-12-07T10:00:00Z');
    const backend = new MemoryBackend({
      unit: '5 East',
      users: { kcharge: { displayName: 'Kim Charge', password: 'pw', role: 'charge' } },
      signedIn: 'kcharge',
      charge: { now: () => now },
    });
    render(ChargeDesk, { backend, session });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Drill scenario' }));

    const choice = await screen.findByRole('radio', { name: /EHR down during a mass casualty event \(4 injects, built in\)/ });
    await axeClean();
    await user.click(choice);
    await user.selectOptions(screen.getByLabelText('First status update due in'), '60');
    await user.keyboard('{Tab}{Enter}');
    expect(await screen.findByRole('status')).toHaveTextContent('Drill started from the scenario. Everything is marked DRILL.');
    const status = await backend.episodeStatus();
    expect(status?.drill).toBe(true);
    expect(status?.nextUpdateDue, 'the first update is due when the charge nurse chose').toMatch(/^2026-12-07T11:00/);
    expect(status?.severity).toBe('P2');
    expect(status?.episode.affected).toEqual(['EHR', 'ADT']);

    expect(injects()).toEqual([expect.stringMatching(/^DRILL inject 1 · minute 0 · arrived 10:00 UTC The EHR shows a login error/)]);
    expect(screen.getByTestId('scenario-score')).toHaveTextContent('0 of 3 expectations met so far. Next inject at 10:10 UTC.');
    expect(document.body.textContent).not.toContain('mass casualty event: expect four admissions');
    await axeClean();

    // Two minutes on, the nurse marks the first inject seen from the keyboard.
    now = new Date('2026-12-07T10:02:00Z');
    screen.getByRole('button', { name: 'Mark inject 1 seen' }).focus();
    await user.keyboard('{Enter}');
    expect(await screen.findByRole('status')).toHaveTextContent('Inject 1 marked seen with your name and the time.');
    expect(injects()[0]).toContain('Seen by kcharge at 10:02 UTC');
    expect(screen.getByTestId('scenario-score')).toHaveTextContent('1 of 3 expectations met so far.');

    // At minute 10 the second inject has arrived: it is listed first.
    now = new Date('2026-12-07T10:11:00Z');
    await user.click(screen.getByRole('button', { name: 'Episode' }));
    await user.click(screen.getByRole('button', { name: 'Drill scenario' }));
    await screen.findByTestId('inject-list');
    expect(injects().map((t) => t?.slice(0, 16))).toEqual(['DRILL inject 2 ·', 'DRILL inject 1 ·']);
    expect(injects()[0]).toContain('mass casualty event: expect four admissions');
    expect(screen.getByTestId('scenario-score')).toHaveTextContent('of 6 expectations met so far. Next inject at 10:25 UTC.');
    const rows = within(screen.getByRole('table')).getAllByRole('row').map((r) => r.textContent?.replace(/\s+/g, ' ').trim());
    expect(rows).toContain('1Inject marked seen (within 5 min)Met after 2 min');
    expect(rows).toContain('1Incident commander named (within 10 min)MISSED');
    await axeClean();
  });

  it('says so when the open episode has no scenario, and offers none while it is open', async () => {
    const backend = new MemoryBackend({
      unit: '5 East',
      users: { kcharge: { displayName: 'Kim Charge', password: 'pw', role: 'charge' } },
      signedIn: 'kcharge',
      charge: {
        episode: { drill: true, severity: 'P3', affected: [], impact: null, reason: null, nextUpdateMinutes: null, beganMinutesAgo: null },
      },
    });
    render(ChargeDesk, { backend, session });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Drill scenario' }));
    expect(await screen.findByText('The open drill was not started from a scenario. End it to start a drill from one.')).toBeInTheDocument();
    expect(screen.queryByRole('radio')).toBeNull();
    await axeClean();
  });
});
