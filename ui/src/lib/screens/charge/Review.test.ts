// The review of every episode (issue 21 item 6) on the charge desk, against the in-memory backend: the episodes of
// the workstation newest first, the clinical impact and follow-up actions typed and kept as versions, refusals in the
// core's words, printing only what was kept (through the print centre, on the chosen episode), and axe-core.
import { describe, expect, it, vi } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import ChargeDesk from './ChargeDesk.svelte';
import { MemoryBackend } from '../../backend/memory';
import type { SessionInfo } from '../../backend';

// Typing whole forms takes seconds on a loaded 2-core machine; the default 5 s is for unit logic, not for this.
vi.setConfig({ testTimeout: 30_000 });

const session: SessionInfo = { username: 'kcharge', displayName: 'Kim Charge', role: 'charge', mustChangePassword: false };

/** A workstation with a real downtime that ended and a drill still open (newest first: the drill). */
async function deskWithTwoEpisodes() {
  const backend = new MemoryBackend({
    unit: '5 East',
    users: { kcharge: { displayName: 'Kim Charge', password: 'pw', role: 'charge' } },
    signedIn: 'kcharge',
    charge: {
      episode: {
        drill: false,
        severity: 'P2',
        affected: ['EHR'],
        impact: null,
        reason: 'EHR down',
        nextUpdateMinutes: 30,
        beganMinutesAgo: null,
        minutesAgo: 200,
      },
    },
  });
  const real = await backend.endEpisode();
  await backend.declareEpisode({
    drill: true,
    severity: 'P3',
    affected: [],
    impact: null,
    reason: 'Night drill',
    nextUpdateMinutes: 30,
    beganMinutesAgo: null,
  });
  render(ChargeDesk, { backend, session });
  const user = userEvent.setup();
  await user.click(await screen.findByRole('button', { name: 'Review' }));
  return { backend, user, real };
}

async function axeClean() {
  // jsdom cannot compute colours; Chromium's run in the gallery checks contrast.
  const result = await axe.run(document.body, { rules: { 'color-contrast': { enabled: false } } });
  expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

describe('the review of an episode', () => {
  it('lists every episode newest first and keeps the impact and actions typed as a new version each save', async () => {
    const { backend, user, real } = await deskWithTwoEpisodes();
    const select = (await screen.findByLabelText('Episode')) as HTMLSelectElement;
    const options = [...select.options].map((o) => o.textContent ?? '');
    expect(options[0]).toMatch(/^DRILL .*still open · not reviewed yet$/);
    expect(options[1]).toMatch(/^Downtime .* to .* · not reviewed yet$/);

    await user.selectOptions(select, real.id);
    expect(screen.getByTestId('review-written').textContent).toContain('Not written yet.');
    await user.click(screen.getByLabelText('Clinical impact'));
    await user.keyboard('Two doses given late while the paper MAR was found.{Enter}No harm.');
    await user.click(screen.getByLabelText('Follow-up actions, one per line'));
    await user.keyboard('Restock paper MAR packs - educator{Enter}{Enter}Night drill within a month');
    expect(screen.getByText(/2 actions; each at most 300 characters/)).toBeTruthy();
    await user.tab();
    await user.keyboard('{Enter}');
    expect((await screen.findByRole('status')).textContent).toContain('Review kept (version 1)');

    const kept = (await backend.episodeReviews()).find((e) => e.episode.id === real.id)?.review;
    expect(kept?.impact).toBe('Two doses given late while the paper MAR was found.\nNo harm.');
    expect(kept?.followUps).toEqual(['Restock paper MAR packs - educator', 'Night drill within a month']);
    expect(screen.getByTestId('review-written').textContent).toMatch(/Version 1, written by kcharge at /);

    await user.click(screen.getByLabelText('Clinical impact'));
    await user.keyboard(' Pharmacy verified by phone.');
    await user.click(screen.getByRole('button', { name: 'Save the review' }));
    expect((await screen.findByRole('status')).textContent).toContain('Review kept (version 2)');
    await axeClean();
  });

  it('refuses an empty review and an action too long, in the core words', async () => {
    const { user } = await deskWithTwoEpisodes();
    await user.click(await screen.findByRole('button', { name: 'Save the review' }));
    expect((await screen.findByRole('alert')).textContent).toContain('Write the clinical impact or at least one');
    expect(document.activeElement).toBe(screen.getByLabelText('Clinical impact'));

    await user.click(screen.getByLabelText('Follow-up actions, one per line'));
    await user.paste('x'.repeat(301));
    expect(screen.getByLabelText('Follow-up actions, one per line').getAttribute('aria-invalid')).toBe('true');
    await user.click(screen.getByRole('button', { name: 'Save the review' }));
    expect((await screen.findByRole('alert')).textContent).toContain('follow-up action 1 is over 300 characters');
    await axeClean();
  });

  it('prints only what was kept, through the print centre on the chosen episode', async () => {
    const { backend, user, real } = await deskWithTwoEpisodes();
    await user.selectOptions(await screen.findByLabelText('Episode'), real.id);
    await user.click(screen.getByLabelText('Clinical impact'));
    await user.keyboard('Lab results by phone; no harm.');
    await user.click(screen.getByRole('button', { name: 'Print the review' }));
    expect((await screen.findByRole('alert')).textContent).toContain('Save the review first');
    expect(backend.charge.printed).toEqual([]);

    await user.click(screen.getByRole('button', { name: 'Save the review' }));
    await screen.findByText(/Review kept \(version 1\)/);
    await user.click(screen.getByRole('button', { name: 'Print the review' }));
    const radio = (await screen.findByRole('radio', { name: /Review of an episode/ })) as HTMLInputElement;
    expect(radio.checked).toBe(true);
    expect((screen.getByLabelText('Episode') as HTMLSelectElement).value).toBe(real.id);
    await user.click(screen.getByRole('button', { name: 'Save as PDF' }));
    expect(await screen.findByTestId('print-notice')).toBeTruthy();
    expect(backend.charge.printed[0]?.job).toEqual({ kind: 'review', episode: real.id });
    await axeClean();
  });
});
