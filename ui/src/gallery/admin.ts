// The administrator's desk in the gallery: `admin-desk` opens on readiness with a not-ready check; the other entries
// open the users (a one-time password pending, a locked account, a disabled one; a one-time password to hand over;
// the confirmation before disabling), census (a stale snapshot and two files in the census folder; after an import),
// forms check (a refused file), verify (before, intact, failed) and backup (status, written, no backup folder).
import { mount } from 'svelte';
import type { GalleryEntry } from './types';
import { until } from './charge';
import { MemoryBackend } from '../lib/backend/memory';
import type { SessionInfo } from '../lib/backend';
import type { AdminSeed } from '../lib/backend/memory/admin';
import AdminDesk from '../lib/screens/admin/AdminDesk.svelte';
import demoCensus from '../../../assets/demo/census-demo.json';

const session: SessionInfo = { username: 'it.admin', displayName: 'IT Admin', role: 'admin', mustChangePassword: false };

function backend(seed: AdminSeed) {
  return new MemoryBackend({
    unit: '5 East',
    demo: true,
    users: {
      'it.admin': { displayName: 'IT Admin', password: 'admin-pass-1', role: 'admin' },
      'anew': { displayName: 'Ann New', password: 'otp-abcdefgh', role: 'nurse', mustChange: true },
      'old.agency': { displayName: 'Old Agency', password: 'x-long-pass-1', role: 'nurse', disabled: true },
      'jlocked': { displayName: 'Jo Locked', password: 'y-long-pass-2', role: 'nurse', failedSignIns: 11 },
    },
    signedIn: 'it.admin',
    admin: {
      refusedForms: [{ file: 'forms/fluid-balance.json', linkId: 'intake', reason: 'unknown item type "slider"' }],
      backupAgeMinutes: 300,
      censusFiles: {
        '5east-census-0500.json': JSON.stringify(demoCensus),
        '5east-census-0600.json': JSON.stringify({ ...demoCensus, timestamp: '2026-11-21T06:00:00Z' }),
      },
      readiness: {
        ready: false,
        checkedAt: '2026-12-07T03:00:00Z',
        workstationId: 'ws-5e-01',
        unit: '5 East',
        notReady: ['him_key'],
        warnings: ['last_backup'],
        checks: [
          { name: 'census', status: 'ok', detail: 'census taken 2 h ago (limit 24 h)', values: {} },
          { name: 'forms', status: 'ok', detail: '5 forms loaded', values: {} },
          { name: 'him_key', status: 'not-ready', detail: 'no HIM public key in site.json: ask IT for it', values: {} },
          { name: 'last_backup', status: 'warning', detail: 'the newest backup is 5 h old (every 4 h)', values: {} },
        ],
      },
      ...seed,
    },
  });
}

/**
 * A section of the desk; `press`, when given, is the aria-label or text of a button to press once the section shows
 * `ready`, and `then` what shows after it (the state a task leaves on screen).
 */
function desk(
  name: string,
  title: string,
  section: string,
  ready: string,
  after: { press: string; then: string; seed?: AdminSeed } | null = null,
): GalleryEntry {
  return {
    name,
    title,
    async mount(target) {
      mount(AdminDesk, { target, props: { backend: backend(after?.seed ?? {}), session } });
      await until(target, 'nav button');
      const button = [...target.querySelectorAll('nav button')].find((b) => b.textContent?.trim() === section);
      (button as HTMLButtonElement | undefined)?.click();
      await until(target, ready);
      if (!after) return;
      const press = [...target.querySelectorAll('section button')].find(
        (b) => b.getAttribute('aria-label') === after.press || b.textContent?.trim() === after.press,
      );
      (press as HTMLButtonElement | undefined)?.click();
      await until(target, after.then);
    },
  };
}

const USERS = '[data-testid="user-list"] tbody tr';

export const entries: GalleryEntry[] = [
  desk('admin-desk', 'Administrator: the desk on readiness (one check not ready)', 'Readiness', '[data-testid="readiness-checks"] tbody tr'),
  desk('admin-users', 'Administrator: users (one-time password pending, locked, disabled)', 'Users', USERS),
  desk('admin-users-one-time', 'Administrator: users, a reset one-time password to hand over', 'Users', USERS, {
    press: 'Reset password for anew',
    then: '[data-testid="one-time-passwords"]',
  }),
  desk('admin-users-disable', 'Administrator: users, the confirmation before disabling', 'Users', USERS, {
    press: 'Disable anew',
    then: '[role="alertdialog"]',
  }),
  desk('admin-census', 'Administrator: census (stale snapshot, files in the census folder)', 'Census', '[data-testid="census-files"]'),
  desk('admin-census-imported', 'Administrator: census, a file of the census folder imported', 'Census', '[data-testid="census-files"]', {
    press: 'Import 5east-census-0600.json',
    then: '[data-testid="census-done"]',
  }),
  desk('admin-forms', 'Administrator: forms check with a refused file', 'Forms check', '[data-testid="forms-refused"]'),
  desk('admin-verify', 'Administrator: verify', 'Verify', 'button'),
  desk('admin-verify-intact', 'Administrator: verify, the vault intact', 'Verify', 'button', {
    press: 'Verify now',
    then: '[data-testid="verify-intact"]',
  }),
  desk('admin-verify-failed', 'Administrator: verify, the integrity check failed', 'Verify', 'button', {
    press: 'Verify now',
    then: '[data-testid="verify-broken"]',
    seed: {
      verifyProblems: [
        { table: 'entries', id: 'e-7f3a', reason: 'body fails authentication' },
        { table: 'audit', id: '412', reason: 'the chain breaks here: the MAC does not match' },
      ],
    },
  }),
  desk('admin-backup', 'Administrator: backup status', 'Backup', '[data-testid="backup-status"]'),
  desk('admin-backup-written', 'Administrator: backup, one written now', 'Backup', '[data-testid="backup-status"]', {
    press: 'Back up now',
    then: '[data-testid="backup-done"]',
  }),
  desk('admin-backup-no-folder', 'Administrator: backup, the site names no backup folder', 'Backup', '[data-testid="backup-status"]', {
    press: 'Back up now',
    then: '[role="alert"]',
    seed: { backupFolder: null },
  }),
];
