// The screen gallery (gallery.html): an index of every screen, and `#<name>` mounting one screen alone against its
// own seeded MemoryBackend. The accessibility run (e2e/a11y.test.mjs) visits each entry and runs axe-core on it.
//
// Each area lists its screens in a file beside this one (session.ts, nurse.ts, charge.ts, him.ts); they are found
// here by import.meta.glob, so adding an area touches nothing else. When a screen has mounted and shows its
// content, <body data-gallery="ready"> says so; a failed mount sets data-gallery="failed" and shows why.
import '../app.css';
import type { GalleryEntry } from './types';

const modules = import.meta.glob<{ entries: GalleryEntry[] }>(['./*.ts', '!./main.ts', '!./types.ts', '!./*.test.ts'], {
  eager: true,
});

export const allEntries: GalleryEntry[] = Object.keys(modules)
  .sort()
  .flatMap((path) => modules[path]?.entries ?? []);

const target = document.getElementById('gallery');
if (!target) throw new Error('gallery.html has no #gallery element');

function index(root: HTMLElement) {
  document.title = 'Downtime Kit: screen gallery';
  const main = document.createElement('main');
  const h1 = document.createElement('h1');
  h1.textContent = 'Screen gallery';
  const list = document.createElement('ul');
  list.id = 'gallery-index';
  for (const entry of allEntries) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = `#${entry.name}`;
    a.textContent = `${entry.title} (${entry.name})`;
    a.dataset.name = entry.name;
    li.append(a);
    list.append(li);
  }
  main.append(h1, list);
  root.append(main);
  document.body.dataset.gallery = 'ready';
}

async function show(root: HTMLElement, name: string) {
  const entry = allEntries.find((e) => e.name === name);
  if (!entry) {
    root.textContent = `No gallery entry named “${name}”.`;
    document.body.dataset.gallery = 'failed';
    return;
  }
  document.title = `${entry.title}: Downtime Kit gallery`;
  try {
    await entry.mount(root);
    document.body.dataset.gallery = 'ready';
  } catch (error) {
    root.textContent = `Mounting ${name} failed: ${String(error)}`;
    document.body.dataset.gallery = 'failed';
  }
}

const name = decodeURIComponent(location.hash.slice(1));
if (name) void show(target, name);
else index(target);
// Each entry mounts into a fresh page, so no screen's state leaks into the next.
window.addEventListener('hashchange', () => location.reload());
