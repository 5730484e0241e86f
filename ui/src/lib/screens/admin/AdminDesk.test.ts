// The administrator's desk against the in-memory backend: readiness with the not-ready checks first, adding a user
// (one-time password shown once), a roster import from a path, reset and disable (after a confirmation), unlocking an
// account locked after failed sign-ins, the census snapshot's age and patients with an import from the census folder,
// the forms check with a refused file, verify, backup status and "back up now"; a nurse is refused; axe-core on each
// section.
import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import AdminDesk from './AdminDesk.svelte';
import App from '../../../App.svelte';
import { MemoryBackend } from '../../backend/memory';
import type { AdminSeed } from '../../backend/memory/admin';
import type { ReadinessReport, SessionInfo } from '../../backend';
import demoCensus from '../../../../../assets/demo/census-demo.json';

// Typing whole forms takes seconds on a loaded 2-core machine; the default 5 s is for unit logic, not for this.
vi.setConfig({ testTimeout: 30_000 });

const session: SessionInfo = { username: 'it.admin', displayName: 'IT Admin', role: 'admin', mustChangePassword: false };

const readiness: ReadinessReport = {
  ready: false,
  checkedAt: '2026-12-07T03:00:00Z',
  workstationId: 'ws-5e-01',
  unit: '5 East',
  notReady: ['him_key'],
  warnings: ['last_verify'],
  checks: [
    { name: 'census', status: 'ok', detail: 'census taken 2 h ago', values: {} },
    { name: 'last_verify', status: 'warning', detail: 'dtk verify has never run on this vault', values: {} },
    { name: 'him_key', status: 'not-ready', detail: 'no HIM public key in site.json', values: {} },
  ],
};

function desk(admin: AdminSeed = {}) {
  const backend = new MemoryBackend({
    unit: '5 East',
    demo: true,
    users: {
      'it.admin': { displayName: 'IT Admin', password: 'admin-pass-1', role: 'admin' },
      dnurse: { displayName: 'Dee Nurse', password: 'a-long-pass-12', role: 'nurse' },
    },
    signedIn: 'it.admin',
    admin: { readiness, ...admin },
  });
  render(AdminDesk, { backend, session });
  return { backend, user: userEvent.setup() };
}

async function axeClean(container: HTMLElement = document.body) {
  // jsdom cannot compute colours; Chromium's run in the gallery checks contrast.
  const result = await axe.run(container, { rules: { 'color-contrast': { enabled: false } } });
  expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

async function open(user: ReturnType<typeof userEvent.setup>, section: string) {
  await user.click(screen.getByRole('button', { name: section }));
}

describe('readiness', () => {
  it('shows each check with its status and detail, the not-ready ones first', async () => {
    desk();
    expect(await screen.findByTestId('readiness-verdict')).toHaveTextContent('Not ready: him_key.');
    const rows = within(screen.getByTestId('readiness-checks')).getAllByRole('row').slice(1);
    expect(rows.map((r) => r.getAttribute('data-status'))).toEqual(['not-ready', 'warning', 'ok']);
    expect(rows[0]).toHaveTextContent('him_key');
    expect(rows[0]).toHaveTextContent('no HIM public key in site.json');
    await axeClean();
  });
});

describe('users', () => {
  it('adds a user whose one-time password is shown once and who must change it', async () => {
    const { backend, user } = desk();
    await open(user, 'Users');
    await screen.findByTestId('user-list');
    await user.type(screen.getByLabelText('Username'), 'bcharge');
    await user.type(screen.getByLabelText('Full name'), 'Bo Charge');
    await user.selectOptions(screen.getByLabelText('Role'), 'charge');
    await user.click(screen.getByRole('button', { name: 'Add the user' }));
    const shown = await screen.findByTestId('one-time-passwords');
    const password = backend.state.users.get('bcharge')?.password ?? '';
    expect(password).toHaveLength(12);
    expect(shown).toHaveTextContent(password);
    await vi.waitFor(() => expect(within(screen.getByTestId('user-list')).getByText('Bo Charge')).toBeInTheDocument());
    expect(within(screen.getByTestId('user-list')).getAllByText('One-time password pending')).toHaveLength(1);
    await axeClean();
    await user.click(screen.getByRole('button', { name: /Done — I have handed them over/ }));
    expect(screen.queryByTestId('one-time-passwords')).toBeNull();
    expect(document.body).not.toHaveTextContent(password);
  });

  it('imports a roster from a path, leaving accounts already present', async () => {
    const { backend, user } = desk({ rosters: { '/media/usb/roster.csv': 'username,display name,role\nanew,Ann New,nurse\ndnurse,Dee Nurse,nurse\n' } });
    await open(user, 'Users');
    await user.type(await screen.findByLabelText('Path of the roster file'), '/media/usb/roster.csv');
    await user.click(screen.getByRole('button', { name: 'Import the roster' }));
    expect(await screen.findByTestId('users-done')).toHaveTextContent('1 account(s) created, 1 already present (dnurse).');
    expect(screen.getByTestId('one-time-passwords')).toHaveTextContent('anew');
    expect(backend.state.users.get('anew')?.mustChange).toBe(true);
  });

  it('says why a roster cannot be read', async () => {
    const { user } = desk();
    await open(user, 'Users');
    await user.type(await screen.findByLabelText('Path of the roster file'), '/nowhere.csv');
    await user.click(screen.getByRole('button', { name: 'Import the roster' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('reading the roster /nowhere.csv');
  });

  it('resets a password to a one-time password and disables an account after confirming', async () => {
    const { backend, user } = desk();
    await open(user, 'Users');
    await user.click(await screen.findByRole('button', { name: 'Reset password for dnurse' }));
    const shown = await screen.findByTestId('one-time-passwords');
    expect(backend.state.users.get('dnurse')?.mustChange).toBe(true);
    expect(shown).toHaveTextContent(backend.state.users.get('dnurse')?.password ?? 'missing');

    await user.click(screen.getByRole('button', { name: 'Disable dnurse' }));
    const dialog = await screen.findByRole('alertdialog');
    expect(screen.getByRole('button', { name: 'Keep the account' })).toHaveFocus();
    await axeClean();
    await user.click(within(dialog).getByRole('button', { name: 'Disable the account' }));
    expect(await screen.findByTestId('users-done')).toHaveTextContent('Disabled dnurse');
    expect(backend.state.users.get('dnurse')?.disabled).toBe(true);
    await vi.waitFor(() => expect(within(screen.getByTestId('user-list')).getByRole('row', { name: /dnurse/ })).toHaveTextContent('Disabled'));
    expect(screen.queryByRole('button', { name: 'Disable it.admin' })).toBeNull();
  });

  it('shows an account locked after too many failed sign-ins and unlocks it; its own password signs in again', async () => {
    const { backend, user } = desk();
    for (let n = 1; n <= 11; n++) {
      const refused = backend.signIn({ username: 'dnurse', password: 'not-my-password' });
      await expect(refused).rejects.toMatchObject({ code: n < 11 ? 'bad_credentials' : 'account_locked' });
    }
    await expect(backend.signIn({ username: 'dnurse', password: 'a-long-pass-12' })).rejects.toMatchObject({ code: 'account_locked' });

    await open(user, 'Users');
    const row = await screen.findByRole('row', { name: /dnurse/ });
    expect(row).toHaveTextContent('Locked');
    expect(within(screen.getByTestId('user-list')).queryByRole('button', { name: 'Unlock it.admin' })).toBeNull();
    await axeClean();
    await user.click(within(row).getByRole('button', { name: 'Unlock dnurse' }));
    expect(await screen.findByTestId('users-done')).toHaveTextContent('Unlocked dnurse: their own password signs them in again.');
    await vi.waitFor(() => expect(within(screen.getByTestId('user-list')).getByRole('row', { name: /dnurse/ })).toHaveTextContent('Active'));
    expect(screen.queryByRole('button', { name: 'Unlock dnurse' })).toBeNull();
    await expect(backend.signIn({ username: 'dnurse', password: 'a-long-pass-12' })).resolves.toMatchObject({ username: 'dnurse' });
  });

  it('is usable from the keyboard alone', async () => {
    const { backend, user } = desk();
    await open(user, 'Users');
    const field = await screen.findByLabelText('Username');
    field.focus();
    await user.keyboard('kbd.user');
    await user.tab();
    await user.keyboard('Key Board');
    await user.tab();
    await user.tab();
    expect(screen.getByRole('button', { name: 'Add the user' })).toHaveFocus();
    await user.keyboard('{Enter}');
    await screen.findByTestId('one-time-passwords');
    expect(backend.state.users.get('kbd.user')?.role).toBe('nurse');
  });
});

describe('census', () => {
  it('shows the snapshot’s age and patients, names a refused file, and imports one from the census folder', async () => {
    // The demo unit's census was taken 2026-11-21T05:00Z, sixteen days before this clock; the file, three hours before.
    const fresh = JSON.stringify({ ...demoCensus, timestamp: '2026-12-07T02:00:00Z' });
    const { backend, user } = desk({ censusFiles: { '5east-0200.json': fresh, 'notes.txt': 'not a census' } });
    backend.state.now = () => new Date('2026-12-07T05:00:00Z');
    await open(user, 'Census');
    expect(await screen.findByTestId('census-state')).toHaveTextContent('Not ready: census is stale: taken 384 h ago');
    expect(screen.getByTestId('census-snapshot')).toHaveTextContent('Taken by the EHR 2026-11-21T05:00:00Z (16 days ago)');
    expect(screen.getByTestId('census-patients')).toHaveTextContent('14');
    expect(within(screen.getByTestId('census-files')).getAllByRole('row').slice(1).map((r) => r.getAttribute('data-file'))).toEqual([
      '5east-0200.json',
      'notes.txt',
    ]);
    await axeClean();

    await user.click(screen.getByRole('button', { name: 'Import notes.txt' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('notes.txt: census is not valid JSON');
    await user.click(screen.getByRole('button', { name: 'Import 5east-0200.json' }));
    expect(await screen.findByTestId('census-done')).toHaveTextContent('Imported 5east-0200.json: 14 patients');
    expect(screen.queryByRole('alert')).toBeNull();
    await vi.waitFor(() => expect(screen.getByTestId('census-state')).toHaveTextContent('Ready: census of 14 patients taken 3 h ago'));
    expect(screen.getByTestId('census-snapshot')).toHaveTextContent('2026-12-07T02:00:00Z (3 h ago)');
  });

  // Regression: the banner kept saying "No census snapshot" after the administrator imported one (the status hid the
  // snapshot from the administrator, and nothing asked for it again after the import).
  it('updates the banner’s census age as soon as the administrator imports a census', async () => {
    const fresh = JSON.stringify({ ...demoCensus, timestamp: new Date(Date.now() - 2 * 3600_000).toISOString() });
    const backend = new MemoryBackend({
      unit: '5 East',
      users: { 'it.admin': { displayName: 'IT Admin', password: 'admin-pass-1', role: 'admin' } },
      signedIn: 'it.admin',
      admin: { readiness, censusFiles: { '5east.json': fresh } },
    });
    const user = userEvent.setup();
    render(App, { backend });
    const banner = await screen.findByTestId('banner-snapshot');
    expect(banner).toHaveTextContent('No census snapshot');
    await open(user, 'Census');
    await user.click(await screen.findByRole('button', { name: 'Import 5east.json' }));
    expect(await screen.findByTestId('census-done')).toHaveTextContent('Imported 5east.json: 14 patients');
    await vi.waitFor(() => expect(screen.getByTestId('banner-snapshot')).toHaveTextContent(/^Census 2 h( 0 min)? old$/));
  });

  it('says how to set the census folder when the site names none', async () => {
    const { user } = desk({ censusFolder: null });
    await open(user, 'Census');
    expect(await screen.findByTestId('census-no-folder')).toHaveTextContent('census_import_dir');
    expect(screen.queryByTestId('census-files')).toBeNull();
    await axeClean();
  });
});

describe('forms, verify and backup', () => {
  it('lists the forms loaded and the refused files with why', async () => {
    const { user } = desk({ refusedForms: [{ file: 'forms/fluid-balance.json', linkId: 'intake', reason: 'unknown item type "slider"' }] });
    await open(user, 'Forms check');
    const refused = await screen.findByTestId('forms-refused');
    expect(refused).toHaveTextContent('forms/fluid-balance.json');
    expect(refused).toHaveTextContent('unknown item type "slider"');
    expect(within(refused).getByText('1 form file(s) refused')).toBeInTheDocument();
    expect(screen.getByTestId('forms-loaded')).toHaveTextContent('5 form(s) loaded');
    await axeClean();
  });

  it('runs verify and shows an intact vault, or each broken row', async () => {
    const { user } = desk({ verifyProblems: [{ table: 'entries', id: 'e-17', reason: 'ciphertext does not decrypt' }] });
    await open(user, 'Verify');
    await user.click(screen.getByRole('button', { name: 'Verify now' }));
    const broken = await screen.findByTestId('verify-broken');
    expect(broken).toHaveTextContent('entries e-17: ciphertext does not decrypt');
    await axeClean();
  });

  it('says an intact vault is intact', async () => {
    const { backend, user } = desk();
    await open(user, 'Verify');
    await user.click(screen.getByRole('button', { name: 'Verify now' }));
    expect(await screen.findByTestId('verify-intact')).toBeInTheDocument();
    expect(backend.calls).toContain('adminVerify');
  });

  it('shows an overdue backup and backs up now', async () => {
    const { user } = desk({ backupAgeMinutes: 600 });
    await open(user, 'Backup');
    expect(await screen.findByTestId('backup-state')).toHaveTextContent('Overdue');
    expect(screen.getByTestId('backup-status')).toHaveTextContent('10 h 0 min ago');
    await axeClean();
    await user.click(screen.getByRole('button', { name: 'Back up now' }));
    expect(await screen.findByTestId('backup-done')).toHaveTextContent('/media/usb/dtk-backups/dtk-backup-');
    await vi.waitFor(() => expect(screen.getByTestId('backup-state')).toHaveTextContent('Up to date'));
  });

  it('says why a backup cannot be taken when the site names no folder', async () => {
    const { user } = desk({ backupFolder: null });
    await open(user, 'Backup');
    await user.click(await screen.findByRole('button', { name: 'Back up now' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('no backup folder');
  });
});

describe('roles', () => {
  it('a nurse is refused the desk’s tasks by the backend', async () => {
    const backend = new MemoryBackend({
      unit: '5 East',
      users: { dnurse: { displayName: 'Dee Nurse', password: 'a-long-pass-12', role: 'nurse' } },
      signedIn: 'dnurse',
    });
    await expect(backend.adminUsers()).rejects.toMatchObject({ code: 'forbidden' });
    await expect(backend.adminVerify()).rejects.toMatchObject({ code: 'forbidden' });
    await expect(backend.adminBackupNow()).rejects.toMatchObject({ code: 'forbidden' });
    await expect(backend.adminUnlockUser('dnurse')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(backend.adminCensus()).rejects.toMatchObject({ code: 'forbidden' });
    await expect(backend.adminImportCensus('census.json')).rejects.toMatchObject({ code: 'forbidden' });
  });
});
