// Gallery entries of the app frame and the session screens: set-up, recovery key, sign-in, lock, home.
import { mount } from 'svelte';
import App from '../App.svelte';
import Setup from '../lib/screens/Setup.svelte';
import RecoveryKey from '../lib/screens/RecoveryKey.svelte';
import SignIn from '../lib/screens/SignIn.svelte';
import Lock from '../lib/screens/Lock.svelte';
import { MemoryBackend } from '../lib/backend/memory';
import type { GalleryEntry } from './types';

/** Resolves once `selector` is in `target` (the screen has loaded its data), or fails after `ms`. */
export async function settled(target: HTMLElement, selector: string, ms = 5000): Promise<void> {
  const start = performance.now();
  while (!target.querySelector(selector)) {
    if (performance.now() - start > ms) throw new Error(`${selector} never appeared`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The demo unit, as set-up's "demo unit" option loads it, optionally signed in. */
export function demo(signedInAs?: string, extra: { readOnly?: boolean } = {}): MemoryBackend {
  return new MemoryBackend({ unit: '5 East', users: {}, demo: true, ...(signedInAs ? { signedInAs } : {}), ...extra });
}

const noop = () => {};

export const entries: GalleryEntry[] = [
  {
    name: 'setup',
    title: 'First run: set up this workstation',
    async mount(target) {
      mount(Setup, { target, props: { backend: new MemoryBackend(), onDone: noop } });
      await settled(target, 'form');
    },
  },
  {
    name: 'recovery-key',
    title: 'First run: write down the recovery key',
    async mount(target) {
      mount(RecoveryKey, {
        target,
        props: { recoveryKey: 'ABCD-EFGH-IJKL-MNOP-QRST-UVWX-YZ23-4567', demoLoaded: true, demoProblem: null, onConfirmed: noop },
      });
      await settled(target, 'h1');
    },
  },
  {
    name: 'sign-in',
    title: 'Sign in',
    async mount(target) {
      mount(SignIn, { target, props: { backend: demo(), unit: '5 East', onSignedIn: noop } });
      await settled(target, 'form');
    },
  },
  {
    name: 'choose-password',
    title: 'First sign-in with a one-time password: choose your password',
    async mount(target) {
      const backend = new MemoryBackend({
        unit: '5 East',
        users: { rpatel: { displayName: 'Ravi Patel', password: 'K7QX-one-time', role: 'nurse', mustChange: true } },
        signedInAs: 'rpatel',
      });
      mount(App, { target, props: { backend } });
      await settled(target, '#password-title');
    },
  },
  {
    name: 'lock',
    title: 'Lock screen (the open form was kept as a draft)',
    async mount(target) {
      mount(Lock, {
        target,
        props: {
          backend: demo(),
          lockedUser: 'demo.nurse',
          note: 'The open form was kept as an encrypted draft at 03:12:09; it comes back when demo.nurse signs in.',
          onSignedIn: noop,
        },
      });
      await settled(target, 'form');
    },
  },
  {
    name: 'app-sign-in',
    title: 'The whole app: banner and sign-in',
    async mount(target) {
      mount(App, { target, props: { backend: demo() } });
      await settled(target, '#signin-username');
    },
  },
  {
    name: 'app-admin-home',
    title: 'The whole app: an administrator signed in',
    async mount(target) {
      const backend = new MemoryBackend({
        unit: '5 East',
        users: { admin: { displayName: 'Alex Admin', password: 'x', role: 'admin' } },
        signedInAs: 'admin',
      });
      mount(App, { target, props: { backend } });
      await settled(target, '[data-testid="signed-in-as"]');
    },
  },
];
