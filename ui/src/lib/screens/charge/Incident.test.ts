// Running the downtime like an incident (issue 21 items 2 and 5) on the charge desk, against the in-memory backend:
// the decision log (recorded from the keyboard, refused when empty or too long, listed newest first), the incident
// commander and clinical liaison (named, replaced), the banner naming them on the app's frame, and the status-update
// draft and the timeline showing both; axe-core on each section.
import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import App from '../../../App.svelte';
import ChargeDesk from './ChargeDesk.svelte';
import { MemoryBackend } from '../../backend/memory';
import type { ChargeSeed } from '../../backend/memory/charge';
import type { SessionInfo } from '../../backend';

// Typing whole forms takes seconds on a loaded 2-core machine; the default 5 s is for unit logic, not for this.
vi.setConfig({ testTimeout: 30_000 });

const session: SessionInfo = { username: 'kcharge', displayName: 'Kim Charge', role: 'charge', mustChangePassword: false };

const openEpisode = {
  drill: false,
  severity: 'P2' as const,
  affected: ['EHR', 'lab results'],
  impact: 'Results by phone only',
  reason: null,
  nextUpdateMinutes: 30,
  beganMinutesAgo: null,
  minutesAgo: 20,
};

function backendFor(charge: ChargeSeed) {
  return new MemoryBackend({
    unit: '5 East',
    users: { kcharge: { displayName: 'Kim Charge', password: 'pw', role: 'charge' } },
    signedIn: 'kcharge',
    charge,
  });
}

async function desk(charge: ChargeSeed, section: string) {
  const backend = backendFor(charge);
  render(ChargeDesk, { backend, session });
  const user = userEvent.setup();
  await user.click(await screen.findByRole('button', { name: section }));
  return { backend, user };
}

async function axeClean(container: HTMLElement = document.body) {
  // jsdom cannot compute colours; Chromium's run in the gallery checks contrast.
  const result = await axe.run(container, { rules: { 'color-contrast': { enabled: false } } });
  expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

const listed = (testId: string) =>
  within(screen.getByTestId(testId))
    .getAllByRole('listitem')
    .map((li) => li.textContent?.replace(/\s+/g, ' ').trim());

describe('the decision log', () => {
  it('records a decision typed and sent with Enter, with who and when, newest first', async () => {
    const { backend, user } = await desk(
      { episode: openEpisode, decisions: [{ minutesAgo: 10, text: 'Switched to paper MAR for ICU' }] },
      'Decisions',
    );
    expect(listed('decision-list')).toEqual([expect.stringMatching(/^\d\d:\d\d UTC by demo\.charge Switched to paper MAR for ICU$/)]);

    const field = screen.getByLabelText('Decision');
    await user.click(field);
    await user.keyboard('Pharmacy verifying orders by phone{Enter}');

    expect(await screen.findByRole('status')).toHaveTextContent('Decision recorded with your name and the time.');
    expect(field).toHaveValue('');
    expect(field).toHaveFocus();
    const now = (await backend.episodeStatus())?.decisions[0];
    expect(now).toMatchObject({ by: 'kcharge', text: 'Pharmacy verifying orders by phone' });
    expect(listed('decision-list')).toEqual([
      `${now?.at.slice(11, 16)} UTC by kcharge Pharmacy verifying orders by phone`,
      expect.stringContaining('Switched to paper MAR for ICU'),
    ]);
    await axeClean();
  });

  it('asks for the decision when the field is empty and keeps nothing', async () => {
    const { backend, user } = await desk({ episode: openEpisode }, 'Decisions');
    expect(screen.getByText('No decision recorded yet.')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Record the decision' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Write the decision first');
    expect(screen.getByLabelText('Decision')).toHaveFocus();
    expect((await backend.episodeStatus())?.decisions).toEqual([]);
  });

  it('counts down to 500 characters and shows the refusal of a longer decision', async () => {
    const { backend, user } = await desk({ episode: openEpisode }, 'Decisions');
    const field = screen.getByLabelText('Decision');
    await user.click(field);
    await user.paste('x'.repeat(498));
    expect(screen.getByText(/One line, at most 500 characters \(2 left\)/)).toBeInTheDocument();
    await user.paste('yyyy');
    expect(screen.getByText(/\(2 too many\)/)).toBeInTheDocument();
    expect(field).toHaveAttribute('aria-invalid', 'true');
    await user.keyboard('{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('the decision is 502 characters long; keep it to 500');
    // The refusal never repeats the text, and the text stays in the field to shorten.
    expect(screen.getByRole('alert')).not.toHaveTextContent('xxxx');
    expect(field).toHaveValue('x'.repeat(498) + 'yyyy');
    expect((await backend.episodeStatus())?.decisions).toEqual([]);
    await axeClean();
  });
});

describe('the incident roles', () => {
  it('names the incident commander and the clinical liaison from the keyboard, and replaces one', async () => {
    const { backend, user } = await desk({ episode: openEpisode }, 'Incident roles');
    expect(screen.getByTestId('role-commander')).toHaveTextContent('Not named yet.');
    expect(screen.getByTestId('role-liaison')).toHaveTextContent('Not named yet.');
    await axeClean();

    await user.click(screen.getByLabelText('Incident commander: name'));
    await user.keyboard('Dana Ruiz{Enter}');
    expect(await screen.findByRole('status')).toHaveTextContent('Incident commander: Dana Ruiz.');
    expect(screen.getByTestId('role-commander')).toHaveTextContent(/Now: Dana Ruiz, since \d\d:\d\d UTC \(named by kcharge\)/);
    expect(screen.getByTestId('role-liaison')).toHaveTextContent('Not named yet.');

    await user.click(screen.getByLabelText('Clinical liaison: name'));
    await user.keyboard('Sam Okafor{Enter}');
    expect(await screen.findByTestId('role-liaison')).toHaveTextContent('Now: Sam Okafor');

    // Naming someone else replaces the holder; the form now says "change".
    await user.click(screen.getByLabelText('New incident commander: name'));
    await user.keyboard('Lee Park');
    await user.click(screen.getByRole('button', { name: 'Change the incident commander' }));
    expect(await screen.findByTestId('role-commander')).toHaveTextContent('Now: Lee Park');
    const status = await backend.episodeStatus();
    expect(status?.commander?.name).toBe('Lee Park');
    expect(status?.liaison).toMatchObject({ name: 'Sam Okafor', by: 'kcharge' });
    // Both assignments of the commander stay in the timeline.
    expect((await backend.episodeTimeline()).roles.map((r) => `${r.role} ${r.name}`)).toEqual([
      'commander Dana Ruiz',
      'liaison Sam Okafor',
      'commander Lee Park',
    ]);
    await axeClean();
  });

  it('asks for a name before naming anyone', async () => {
    const { backend, user } = await desk({ episode: openEpisode }, 'Incident roles');
    await user.click(screen.getByRole('button', { name: 'Name the clinical liaison' }));
    expect(await screen.findByRole('alert')).toHaveTextContent("Type the clinical liaison's name first.");
    expect(screen.getByLabelText('Clinical liaison: name')).toHaveFocus();
    expect((await backend.episodeStatus())?.liaison).toBeNull();
  });
});

describe('status updates and the timeline', () => {
  it('draft names the role holders and lists the decisions; the timeline shows both', async () => {
    const { user } = await desk(
      {
        episode: openEpisode,
        roles: { commander: 'Dana Ruiz' },
        decisions: [{ minutesAgo: 5, text: 'Pharmacy verifying orders by phone' }],
      },
      'Status updates',
    );
    await user.click(await screen.findByRole('button', { name: 'Draft an update from the episode' }));
    const text = (screen.getByLabelText('Update text (edit before sending)') as HTMLTextAreaElement).value;
    expect(text).toContain('Incident commander: Dana Ruiz; Clinical liaison: not named');
    expect(text).toMatch(/Decisions:\n {2}- \d\d:\d\d UTC Pharmacy verifying orders by phone \(demo\.charge\)/);

    const timeline = screen.getByTestId('timeline');
    expect(await within(timeline).findByText(/Incident commander: Dana Ruiz \(named by demo\.charge\)/)).toBeInTheDocument();
    expect(within(timeline).getByText(/Decision: Pharmacy verifying orders by phone \(demo\.charge\)/)).toBeInTheDocument();
    // Oldest first: declared (and the commander named then) before the decision five minutes ago.
    const order = listed('timeline');
    expect(order.findIndex((m) => m?.includes('Incident commander'))).toBeLessThan(
      order.findIndex((m) => m?.includes('Decision:')),
    );
    await axeClean();
  });
});

describe('the banner', () => {
  it('names the incident commander and the clinical liaison as soon as the charge nurse does', async () => {
    const backend = backendFor({ episode: openEpisode });
    render(App, { backend });
    const user = userEvent.setup();
    const banner = await screen.findByRole('banner', { name: 'Downtime status' });
    await within(banner).findByTestId('banner-episode');
    expect(within(banner).queryByTestId('banner-roles')).toBeNull();

    await user.click(await screen.findByRole('button', { name: 'Charge desk' }));
    await user.click(await screen.findByRole('button', { name: 'Incident roles' }));
    await user.click(screen.getByLabelText('Incident commander: name'));
    await user.keyboard('Dana Ruiz{Enter}');
    expect(await within(banner).findByTestId('banner-roles')).toHaveTextContent('Incident commander: Dana Ruiz');
    expect(within(banner).getByTestId('banner-roles')).not.toHaveTextContent('Clinical liaison');

    await user.click(screen.getByLabelText('Clinical liaison: name'));
    await user.keyboard('Sam Okafor{Enter}');
    await vi.waitFor(() =>
      expect(within(banner).getByTestId('banner-roles')).toHaveTextContent(
        'Incident commander: Dana Ruiz · Clinical liaison: Sam Okafor',
      ),
    );
  });
});
