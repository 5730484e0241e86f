// What the app frame (App.svelte) offers the screens inside it, through Svelte context: the banner's status, a way
// to refresh it after a save, and the open form's unsaved work (which the idle lock keeps as an encrypted draft and
// the unsaved-changes guard asks about). Screens mounted alone (tests, the gallery) get a harmless default.
import { getContext, setContext } from 'svelte';
import type { DowntimeStatus } from './backend';

/** The open form's work in progress, as the lock and the guard need it. */
export interface PendingWork {
  /** Whether the form holds answers that are not saved. */
  dirty(): boolean;
  /** The draft body to keep encrypted when the screen locks (the form comes back from it after sign-in). */
  draft(): unknown;
}

export interface Frame {
  status(): DowntimeStatus | null;
  refreshStatus(): void;
  /** The open form registers itself here while it is on screen. */
  pending: { current: PendingWork | null };
}

const KEY = Symbol('frame');

export function provideFrame(frame: Frame): void {
  setContext(KEY, frame);
}

export function useFrame(): Frame {
  return (
    getContext<Frame | undefined>(KEY) ?? {
      status: () => null,
      refreshStatus: () => {},
      pending: { current: null },
    }
  );
}

/** What a lock draft's body holds: enough to reopen the same form for the same patient with the same answers. */
export const LOCK_DRAFT = 'idle-lock';

/** "10:42:13" (local time), as the save confirmation names it. */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** "22 Nov 2026 10:42" (local time), for lists. */
export function dateTime(iso: string | null): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric' })} ${d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })}`;
}

/** "3 h 12 min" between two times, for the census snapshot's age. */
export function age(fromIso: string, now: Date): string {
  const minutes = Math.max(0, Math.floor((now.getTime() - new Date(fromIso).getTime()) / 60000));
  if (Number.isNaN(minutes)) return 'unknown';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days`;
}
