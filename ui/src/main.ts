// Start-up: choose the backend, then mount the app; nothing else runs before the first paint.
import { mount } from 'svelte';
import App from './App.svelte';
import { selectBackend } from './lib/backend';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

const backend = await selectBackend();
mount(App, { target, props: { backend } });
