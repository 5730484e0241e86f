// The HIM desk's screens in the gallery, each with its own MemoryBackend seeded with a realistic worklist (a few
// hundred entries, duplicate proposals, a temporary-MRN patient, an import folder with good and refused files).
import { flushSync, mount, tick } from 'svelte';
import type { GalleryEntry } from './types';
import HimDesk from '../lib/screens/him/HimDesk.svelte';
import { MemoryBackend } from '../lib/backend/memory';
import { himSeed } from '../lib/backend/memory/him-seed';
import type { SessionInfo } from '../lib/backend';

const session: SessionInfo = { username: 'lhim', displayName: 'Lee Okafor', role: 'him', mustChangePassword: false };

/** Waits until `ready` finds what the screen shows once loaded (the backend double answers at once). */
async function until(target: HTMLElement, ready: (t: HTMLElement) => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    flushSync();
    if (ready(target)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the HIM screen did not finish loading');
}

function click(target: HTMLElement, name: string) {
  const button = [...target.querySelectorAll('button')].find((b) => b.textContent?.trim() === name);
  if (!button) throw new Error(`no button "${name}"`);
  button.click();
}

function type(target: HTMLElement, selector: string, text: string) {
  const input = target.querySelector<HTMLInputElement>(selector);
  if (!input) throw new Error(`no field ${selector}`);
  input.value = text;
  input.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
}

async function desk(target: HTMLElement): Promise<MemoryBackend> {
  const backend = new MemoryBackend({
    unit: '5 East',
    users: { lhim: { displayName: session.displayName, password: 'a-long-pass-12', role: 'him' } },
    signedInAs: 'lhim',
    him: himSeed(320),
  });
  mount(HimDesk, { target, props: { backend, session } });
  await until(target, (t) => t.querySelectorAll('[data-testid="wl-row"]').length > 0 && /still open/.test(t.textContent ?? ''));
  return backend;
}

export const entries: GalleryEntry[] = [
  {
    name: 'him-worklist',
    title: 'HIM desk: worklist (320 entries, counts, filters, a row selected)',
    async mount(target) {
      await desk(target);
    },
  },
  {
    name: 'him-duplicate',
    title: 'HIM desk: a possible duplicate side by side',
    async mount(target) {
      await desk(target);
      const row = [...target.querySelectorAll<HTMLElement>('[data-testid="wl-row"]')].find((r) =>
        r.textContent?.includes('Possible duplicate'),
      );
      row?.querySelector('button')?.click();
      await tick();
      click(target, 'Compare duplicate…');
      await until(target, (t) => t.querySelector('[data-testid="him-side-by-side"]') !== null);
    },
  },
  {
    name: 'him-accept-all',
    title: 'HIM desk: accept all matched, asking with the count',
    async mount(target) {
      await desk(target);
      click(target, [...target.querySelectorAll('button')].find((b) => b.textContent?.startsWith('Accept all matched'))?.textContent?.trim() ?? '');
      await until(target, (t) => t.querySelector('[role="alertdialog"]') !== null);
    },
  },
  {
    name: 'him-import',
    title: 'HIM desk: import results per file (added with a conflict, tampered, truncated, replayed)',
    async mount(target) {
      await desk(target);
      click(target, 'Import files');
      await until(target, (t) => t.querySelectorAll('input[type="checkbox"]').length > 0);
      click(target, 'Import 4 files');
      await until(target, (t) => t.querySelector('[data-testid="him-import-results"]') !== null);
    },
  },
  {
    name: 'him-import-share',
    title: "HIM desk: a unit share's copy imported, a dead PC's entries named until its handoff file comes",
    async mount(target) {
      await desk(target);
      click(target, 'Import files');
      await until(target, (t) => t.querySelector('input[type="checkbox"]') !== null);
      click(target, 'Import 5E-unit-share');
      await until(target, (t) => t.querySelector('[data-testid="him-share-only"]') !== null);
    },
  },
  {
    name: 'him-export',
    title: 'HIM desk: export, post and report',
    async mount(target) {
      const backend = await desk(target);
      await backend.himAcceptAllMatched();
      click(target, 'Export and report');
      await until(target, (t) => t.querySelector('#him-export-path') !== null);
      type(target, '#him-report-pdf-path', '/media/usb/reconciliation.pdf');
      click(target, 'Save report as PDF');
      await until(target, (t) => t.querySelector('[data-testid="him-report-pdf"]') !== null);
    },
  },
  {
    name: 'him-paper',
    title: 'HIM desk: paper back-entry (scan decode and confirmation)',
    async mount(target) {
      await desk(target);
      click(target, 'Paper back-entry');
      await until(target, (t) => t.querySelector('#him-scan-path') !== null);
    },
  },
  {
    name: 'him-paper-form',
    title: 'HIM desk: paper back-entry, the page typed into the form with the core’s finding beside a field',
    async mount(target) {
      await desk(target);
      click(target, 'Paper back-entry');
      await until(target, (t) => t.querySelector('#him-scan-path') !== null);
      type(target, '#him-scan-path', '/media/scans/page-001.png');
      click(target, 'Read the QR code');
      await until(target, (t) => t.querySelector('#him-paper-author') !== null);
      type(target, '#him-paper-author', 'Sam Whitfield, RN');
      click(target, 'The page matches');
      await until(target, (t) => t.querySelector('[data-testid="him-paper-confirmed"]') !== null);
      click(target, 'Record the back-entry');
      await until(target, (t) => t.querySelector('[data-testid="him-paper-findings"]') !== null);
    },
  },
  {
    name: 'him-key',
    title: 'HIM desk: the station handoff key',
    async mount(target) {
      await desk(target);
      click(target, 'Station key');
      await until(target, (t) => t.querySelector('#him-key-title') !== null);
      click(target, 'Create or show the station key');
      await until(target, (t) => t.querySelector('[data-testid="him-fingerprint"]') !== null);
    },
  },
];
