// @ts-check
// Accessibility: every screen of the gallery (ui/dist/gallery.html, each screen alone against the in-memory
// backend) in headless Chromium driven by chromedriver, with axe-core injected; any WCAG 2.x A/AA violation fails,
// listed by screen, rule and element. Screenshots of each screen at 1366×768 go to target/gallery-screenshots/.
//
// Needs `npm run ui:build` first (it serves ui/dist) and Debian's chromium and chromium-driver.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from './webdriver.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'ui/dist');
const SHOTS = join(ROOT, 'target/gallery-screenshots');
const LOGS = join(ROOT, 'target/e2e-logs');
const AXE = readFileSync(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const DRIVER_PORT = 20000 + Math.floor(Math.random() * 20000);
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml' };

/** @type {import('node:http').Server | undefined} */
let server;
let base = '';
/** @type {import('node:child_process').ChildProcess | undefined} */
let driver;
/** @type {Session | undefined} */
let session;

before(async () => {
  assert.ok(existsSync(join(DIST, 'gallery.html')), 'ui/dist/gallery.html is missing: run npm run ui:build first');
  mkdirSync(SHOTS, { recursive: true });
  mkdirSync(LOGS, { recursive: true });
  // A tiny static server for ui/dist on the loopback interface only.
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^([/\\])+/, '');
    const file = join(DIST, path || 'index.html');
    if (!file.startsWith(DIST) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[/** @type {keyof typeof TYPES} */ (extname(file))] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise((r) => server?.listen(0, '127.0.0.1', () => r(undefined)));
  const address = server.address();
  assert.ok(address && typeof address === 'object');
  base = `http://127.0.0.1:${address.port}`;

  const log = createWriteStream(join(LOGS, 'chromedriver.log'));
  driver = spawn('chromedriver', [`--port=${DRIVER_PORT}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  driver.stdout?.pipe(log);
  driver.stderr?.pipe(log);
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${DRIVER_PORT}/status`)).ok) break;
    } catch {
      // Not listening yet.
    }
    assert.ok(Date.now() < deadline, 'chromedriver did not start (apt-get install chromium-driver)');
    await new Promise((r) => setTimeout(r, 50));
  }
  session = await Session.start(`http://127.0.0.1:${DRIVER_PORT}`, {
    browserName: 'chrome',
    'goog:chromeOptions': {
      binary: '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--window-size=1366,768', '--lang=en-GB'],
    },
  });
});

after(async () => {
  await session?.end().catch(() => {});
  driver?.kill('SIGTERM');
  server?.close();
});

/** @param {Session} s @param {string} url */
async function open(s, url) {
  await s.navigate(url);
  await s.waitFor('body[data-gallery="ready"], body[data-gallery="failed"]', { timeoutMs: 15000 });
  const failed = await s.execute('return document.body.dataset.gallery === "failed" ? document.body.textContent : null');
  assert.equal(failed, null, `${url} failed to mount`);
}

/** @param {Session} s @returns {Promise<{ id: string, impact: string, help: string, nodes: { target: string[] }[] }[]>} */
async function violations(s) {
  await s.execute(AXE);
  return /** @type {any} */ (
    await s.executeAsync(
      'const done = arguments[arguments.length - 1];' +
        'axe.run(document, { runOnly: { type: "tag", values: arguments[0] } })' +
        '.then((r) => done(r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }))))' +
        '.catch((e) => done([{ id: "axe-error", impact: "critical", help: String(e), nodes: [] }]));',
      [TAGS],
    )
  );
}

test('the harness itself finds a violation (an unlabelled field)', async () => {
  const s = /** @type {Session} */ (session);
  await open(s, `${base}/gallery.html?selftest`);
  await s.execute('const i = document.createElement("input"); i.type = "text"; document.body.append(i);');
  const found = await violations(s);
  assert.ok(found.some((v) => v.id === 'label'), `axe-core did not report the unlabelled field: ${JSON.stringify(found)}`);
});

test('every gallery screen has no WCAG A/AA violations (axe-core)', async () => {
  const s = /** @type {Session} */ (session);
  await open(s, `${base}/gallery.html`);
  const names = /** @type {string[]} */ (
    await s.execute('return [...document.querySelectorAll("#gallery-index a")].map((a) => a.dataset.name)')
  );
  assert.ok(names.length >= 10, `the gallery lists only ${names.length} screens`);
  /** @type {string[]} */
  const problems = [];
  for (const name of names) {
    // A query string makes each visit a fresh page load.
    await open(s, `${base}/gallery.html?screen=${encodeURIComponent(name)}#${encodeURIComponent(name)}`);
    const result = await violations(s);
    for (const v of result) {
      problems.push(`${name}: ${v.id} (${v.impact}) ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    }
    writeFileSync(join(SHOTS, `${name}.png`), await s.screenshot());
  }
  console.log(`axe-core checked ${names.length} gallery screens; screenshots in ${SHOTS}`);
  assert.deepEqual(problems, [], `accessibility violations:\n${problems.join('\n')}`);
});
