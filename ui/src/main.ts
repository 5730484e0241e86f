// Start-up: choose the backend, then mount the app; nothing else runs before the first paint.
import { mount } from 'svelte';
import App from './App.svelte';
import { selectBackend } from './lib/backend';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

// Not a top-level await: the backend chunks import shared code from this entry chunk, and a module cycle that
// waits on itself never finishes evaluating (the window would stay blank).
selectBackend().then(
  (backend) => mount(App, { target, props: { backend } }),
  (error: unknown) => {
    target.textContent = `Downtime Kit could not start: ${String(error)}. Restart it; if this happens again, call IT.`;
  },
);
