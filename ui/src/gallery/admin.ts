// The administrator's desk in the gallery: `admin-desk` opens on readiness with a not-ready check; the other entries
// open the users (a one-time password pending, a locked account, a disabled one), census (a stale snapshot and two
// files in the census folder), forms check (a refused file), verify and backup sections.
import { mount } from 'svelte';
import type { GalleryEntry } from './types';
import { until } from './charge';
import { MemoryBackend } from '../lib/backend/memory';
import type { SessionInfo } from '../lib/backend';
import AdminDesk from '../lib/screens/admin/AdminDesk.svelte';
import demoCensus from '../../../assets/demo/census-demo.json';

const session: SessionInfo = { username: 'it.admin', displayName: 'IT Admin', role: 'admin', mustChangePassword: false };

function backend() {
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
    },
  });
}

function desk(name: string, title: string, section: string, ready: string): GalleryEntry {
  return {
    name,
    title,
    async mount(target) {
      mount(AdminDesk, { target, props: { backend: backend(), session } });
      await until(target, 'nav button');
      const button = [...target.querySelectorAll('nav button')].find((b) => b.textContent?.trim() === section);
      (button as HTMLButtonElement | undefined)?.click();
      await until(target, ready);
    },
  };
}

export const entries: GalleryEntry[] = [
  desk('admin-desk', 'Administrator: the desk on readiness (one check not ready)', 'Readiness', '[data-testid="readiness-checks"] tbody tr'),
  desk('admin-users', 'Administrator: users (one-time password pending, locked, disabled)', 'Users', '[data-testid="user-list"] tbody tr'),
  desk('admin-census', 'Administrator: census (stale snapshot, files in the census folder)', 'Census', '[data-testid="census-files"]'),
  desk('admin-forms', 'Administrator: forms check with a refused file', 'Forms check', '[data-testid="forms-refused"]'),
  desk('admin-verify', 'Administrator: verify', 'Verify', 'button'),
  desk('admin-backup', 'Administrator: backup status', 'Backup', '[data-testid="backup-status"]'),
];
