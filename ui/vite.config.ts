// Vite, Svelte and Vitest configuration for the desktop UI (built into ui/dist, which Tauri embeds).
import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  plugins: [svelte()],
  // Tauri serves the build from its own origin; relative URLs keep it working under any scheme.
  base: './',
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The CSP forbids inline scripts; the module-preload polyfill is not needed by WebKitGTK or WebView2.
    modulePreload: { polyfill: false },
    target: 'es2022',
    // Two pages: the app, and the screen gallery (every screen alone against the in-memory backend, for the
    // accessibility run and for reviewers). The gallery never talks to the Rust side.
    rollupOptions: {
      input: { main: `${root}index.html`, gallery: `${root}gallery.html` },
    },
  },
  // Testing Library needs Svelte's browser build under jsdom; outside Vitest, Vite's own defaults already pick it,
  // and overriding them there would select the server build (a blank window).
  ...(process.env.VITEST ? { resolve: { conditions: ['browser'] } } : {}),
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.ts'],
    setupFiles: ['src/test-setup.ts'],
    // A 2-core CI machine under load runs a screen's whole path (axe included) slower than Vitest's 5 s default;
    // a timeout is a guard against hangs, not a measurement (budgets live in BENCHMARKS.md).
    testTimeout: 30_000,
  },
});
