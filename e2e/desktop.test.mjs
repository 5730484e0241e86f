// @ts-check
// Desktop end-to-end: the built app in a real window (under Xvfb), driven through tauri-driver and WebKitWebDriver.
//
// First run on a fresh vault: set-up, recovery key, sign-in (a wrong password first), home; then a second launch on
// the same vault opens on the sign-in screen, and signing out returns to it. Screenshots go to
// target/e2e-screenshots/, and the time from launch to the first screen is printed (a measurement, not an assertion:
// budgets are checked in benchmarks, not timed tests).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from './webdriver.mjs';
import { ROOT, SHOTS, changeSite, clickText, shot, signIn, writeSite } from './window.mjs';
import { administerAccounts, administerWorkstation, workstationSite } from './admin.mjs';

const APP = process.env.DTK_APP ?? join(ROOT, 'target/debug/downtime-kit');
const LOGS = join(ROOT, 'target/e2e-logs');
// A port per run, so a stale driver from an interrupted run cannot answer for this one.
const PORT = 20000 + Math.floor(Math.random() * 20000);
const BASE = `http://127.0.0.1:${PORT}`;
const PASSWORD = 'Correct-Horse-Battery-9';

/** @type {import('node:child_process').ChildProcess | undefined} */
let driver;
/** @type {string} */
let vault = '';

before(async () => {
  assert.ok(existsSync(APP), `the app is not built: ${APP} (run cargo build -p downtime-kit-app)`);
  mkdirSync(SHOTS, { recursive: true });
  mkdirSync(LOGS, { recursive: true });
  vault = mkdtempSync(join(tmpdir(), 'dtk-e2e-vault-'));
  const log = createWriteStream(join(LOGS, 'tauri-driver.log'));
  // The app inherits tauri-driver's environment through WebKitWebDriver, which is how it gets its vault folder.
  driver = spawn('tauri-driver', ['--port', String(PORT), '--native-port', String(PORT + 1)], {
    env: { ...process.env, DTK_VAULT: vault },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  driver.stdout?.pipe(log);
  driver.stderr?.pipe(log);
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      const response = await fetch(`${BASE}/status`);
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    assert.ok(Date.now() < deadline, `tauri-driver did not start; see ${join(LOGS, 'tauri-driver.log')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
});

after(() => {
  driver?.kill('SIGTERM');
  if (vault) rmSync(vault, { recursive: true, force: true });
});

/** Launches the app and measures the time until `css` (the first screen's heading) is on screen. */
async function launch(/** @type {string} */ css, /** @type {string} */ what) {
  const start = performance.now();
  const session = await Session.start(BASE, { 'tauri:options': { application: APP } });
  await session.waitFor(css, { timeoutMs: 30000 });
  const wall = performance.now() - start;
  const inPage = /** @type {number} */ (await session.execute('return performance.now()'));
  console.log(
    `launch → ${what} painted: ${wall.toFixed(0)} ms (WebDriver session start included); ` +
      `${inPage.toFixed(0)} ms after the page's navigation start`,
  );
  return session;
}

test('first run: set up, write down the recovery key, sign in, home; a relaunch opens on sign-in', { timeout: 240000 }, async () => {
  let session = await launch('#setup-title', 'first-run set-up screen');
  try {
    await shot(session, '01-first-run-setup.png');
    await session.type(await session.find('#setup-unit'), '5 East');
    await session.type(await session.find('#setup-admin'), 'admin');
    await session.type(await session.find('#setup-display'), 'Alex Admin');
    // A password the core refuses: its invalid_input error crosses IPC as { code, message } and is shown as is.
    await session.type(await session.find('#setup-password'), 'short');
    await session.type(await session.find('#setup-password-again'), 'short');
    await session.click(await session.find('#setup-submit'));
    await session.waitFor('[role="alert"]', { text: 'at least', timeoutMs: 30000 });
    await shot(session, '02-setup-weak-password.png');
    for (const id of ['#setup-password', '#setup-password-again']) {
      const field = await session.find(id);
      await session.clear(field);
      await session.type(field, PASSWORD);
    }
    await session.click(await session.find('#setup-demo'));
    await session.click(await session.find('#setup-submit'));

    const key = await session.waitFor('[data-testid="recovery-key"]', { timeoutMs: 30000 });
    assert.ok((await session.text(key)).trim().length >= 16, 'a recovery key is shown');
    await shot(session, '03-recovery-key.png');
    await session.click(await session.find('#recovery-written'));
    await session.click(await session.find('#recovery-continue'));

    await session.waitFor('#signin-title');
    await shot(session, '04-sign-in.png');
    await session.type(await session.find('#signin-username'), 'admin');
    await session.type(await session.find('#signin-password'), 'not the password');
    await session.click(await session.find('#signin-submit'));
    await session.waitFor('[role="alert"]', { text: 'not correct', timeoutMs: 30000 });
    await shot(session, '05-sign-in-error.png');

    await session.type(await session.find('#signin-password'), PASSWORD);
    await session.click(await session.find('#signin-submit'));
    await session.waitFor('[data-testid="signed-in-as"]', { text: 'Signed in as Alex Admin', timeoutMs: 30000 });
    const banner = await session.text(await session.find('header[aria-label="Downtime status"]'));
    assert.match(banner, /DOWNTIME/);
    assert.match(banner, /5 East/);
    await shot(session, '06-home.png');

    // The CSP is in force in the real window: code built from strings is refused.
    const evalResult = await session.execute(
      "try { return String(new Function('return 1')()); } catch (e) { return 'blocked'; }",
    );
    assert.equal(evalResult, 'blocked', 'the CSP must forbid eval');
  } finally {
    await session.end();
  }

  // Second launch on the same vault: set-up is done, so the first screen is sign-in.
  session = await launch('#signin-title', 'sign-in screen');
  try {
    await session.type(await session.find('#signin-username'), 'admin');
    await session.type(await session.find('#signin-password'), PASSWORD);
    await session.click(await session.find('#signin-submit'));
    await session.waitFor('[data-testid="signed-in-as"]', { text: 'Administrator', timeoutMs: 30000 });
    await session.click(await session.find('#sign-out'));
    await session.waitFor('#signin-title');
  } finally {
    await session.end();
  }
});

// The demo unit loaded at set-up above has its accounts (password demo-password) and an open DRILL episode.
const DEMO_PASSWORD = 'demo-password';

test('the nurse path: scan, chart a medication administration, durable save, sign, amend', { timeout: 300000 }, async () => {
  const session = await launch('#signin-title', 'sign-in screen');
  try {
    await signIn(session, 'demo.nurse', DEMO_PASSWORD);
    const scan = await session.waitFor('#scan-field', { timeoutMs: 30000 });
    await session.waitFor('tbody tr');
    assert.equal(await session.execute('return document.activeElement && document.activeElement.id'), 'scan-field');
    await shot(session, '07-patient-list.png');

    // A wristband scanner types the MRN and Enter.
    await session.type(scan, 'DEV2003\uE007');
    await session.waitFor('[data-testid="patient-banner"]', { text: 'OKAFOR', timeoutMs: 30000 });
    await shot(session, '08-patient-chart.png');

    await clickText(session, 'button.form-choice', 'Medication administration');
    await session.waitFor('#form-title', { text: 'Medication administration' });
    await session.click(await session.find('input[type="radio"][value="7052"]'));
    await session.type(await session.find('#q-dose-0'), '2');
    await session.click(await session.find('input[type="radio"][value="47625008"]'));
    await clickText(session, '[data-link-id="time-given"] button', 'Now');
    await session.click(await session.find('input[type="radio"][value="completed"]'));
    await shot(session, '09-form-filled.png');
    await session.click(await session.find('#form-save'));
    // The confirmation names the time the core committed the entry, and appears only after it did.
    const saved = await session.waitFor('[data-testid="save-confirmation"]', { text: 'Saved on this workstation at', timeoutMs: 30000 });
    assert.match(await session.text(saved), /at \d\d:\d\d:\d\d/);
    await session.waitFor('[data-testid="banner-last-save"]', { text: 'Last save stored', timeoutMs: 30000 });
    await shot(session, '10-saved.png');

    await session.click(await session.find('#form-sign'));
    await session.waitFor('[data-testid="save-confirmation"]', { text: 'Signed on this workstation at', timeoutMs: 30000 });
    await shot(session, '11-signed.png');

    await clickText(session, '.form-head button', 'Back to patient');
    await session.waitFor('table button.link', { text: 'Medication administration', timeoutMs: 30000 });
    await clickText(session, 'table button.link', 'Medication administration');
    await session.click(await session.waitFor('#entry-amend', { timeoutMs: 30000 }));
    await session.waitFor('#form-title', { text: 'Amend:' });
    const dose = await session.find('#q-dose-0');
    await session.clear(dose);
    await session.type(dose, '3');
    await session.type(await session.find('#amend-reason'), 'dose corrected');
    await session.click(await session.find('#form-save'));
    await session.waitFor('[data-testid="save-confirmation"]', { text: 'Amendment saved on this workstation', timeoutMs: 30000 });
    await shot(session, '12-amended.png');

    await clickText(session, '.form-head button', 'Back to patient');
    await session.waitFor('table button.link', { text: 'Medication administration', timeoutMs: 30000 });
    await clickText(session, 'table button.link', 'Medication administration');
    await session.waitFor('.versions', { text: 'Version 2: amendment', timeoutMs: 30000 });
    await shot(session, '13-entry-versions.png');
  } finally {
    await session.end();
  }
});

// The demo unit's practice downtime began three hours before it was loaded, and Okafor's metoprolol (every 6 hours,
// last given five hours before the outage) has been overdue since one hour after that: no clock to fake.
test('the MAR: a dose overdue on the demo unit, charted from its row, turns to given with the time', { timeout: 300000 }, async () => {
  const session = await launch('#signin-title', 'sign-in screen');
  try {
    await signIn(session, 'demo.nurse', DEMO_PASSWORD);
    const scan = await session.waitFor('#scan-field', { timeoutMs: 30000 });
    await session.type(scan, 'DEV2003\uE007');
    await session.waitFor('[data-testid="patient-banner"]', { text: 'OKAFOR', timeoutMs: 30000 });
    await session.click(await session.find('[data-testid="tab-mar"]'));
    const overdue = '[data-testid="mar-order"][data-medication^="Metoprolol"] tr[data-status="overdue"]';
    await session.waitFor(overdue, { text: 'OVERDUE', timeoutMs: 30000 });
    await session.waitFor('[data-testid="mar-summary"]', { text: 'overdue' });
    // An order with an overdue dose is listed first, right under the count (which one depends on the time of day:
    // the demo's outage began three hours ago, and a 09:00 dose is overdue too from 10:00 to 12:00).
    const first = 'return document.querySelector(\'[data-testid="mar-order"]\').querySelector(\'tr[data-status="overdue"]\') !== null';
    assert.equal(await session.execute(first), true, 'the first order listed has an overdue dose');
    await session.execute('document.querySelector(\'[data-testid="mar-summary"]\').scrollIntoView()');
    await shot(session, '08a-mar-overdue.png');

    await session.click(await session.find(`${overdue} button`));
    await session.waitFor('#form-title', { text: 'Medication administration' });
    await session.waitFor('[data-testid="dose-context"]', { text: 'OVERDUE' });
    // Pre-filled from the order, except the time given: the nurse says when it was given.
    assert.equal(await session.execute('return document.querySelector(\'[data-link-id="time-given"] input\').value'), '');
    await clickText(session, '[data-link-id="time-given"] button', 'Now');
    await session.click(await session.find('input[type="radio"][value="completed"]'));
    await shot(session, '08b-mar-chart-dose.png');
    await session.click(await session.find('#form-save'));
    await session.waitFor('[data-testid="save-confirmation"]', { text: 'Saved on this workstation at', timeoutMs: 30000 });
    await session.click(await session.find('#form-sign'));
    await session.waitFor('[data-testid="save-confirmation"]', { text: 'Signed on this workstation at', timeoutMs: 30000 });

    await clickText(session, '.form-head button', 'Back to patient');
    const given = '[data-testid="mar-order"][data-medication^="Metoprolol"] tr[data-status="given"]';
    const row = await session.waitFor(given, { text: 'by demo.nurse', timeoutMs: 30000 });
    assert.match(await session.text(row), /Given \d+ \w+ \d{4} \d\d:\d\d by demo\.nurse/);
    await session.execute(`document.querySelector('${given}').scrollIntoView({ block: 'center' })`);
    await shot(session, '08c-mar-given.png');
  } finally {
    await session.end();
  }
});

/** The PDFs in `folder` whose text contains `needle` (pdftotext from poppler-utils). @param {string} folder @param {string} needle */
function pdfsContaining(folder, needle) {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.pdf'))
    .filter((f) => execFileSync('pdftotext', ['-enc', 'UTF-8', join(folder, f), '-'], { encoding: 'utf8' }).includes(needle));
}

/** The PDFs in `folder`. @param {string} folder */
function pdfsIn(folder) {
  return readdirSync(folder).filter((f) => f.endsWith('.pdf')).length;
}

/**
 * Chooses what to print, saves it as a PDF into `folder`, and waits for the notice and for the new file: the notice
 * of an earlier save can still be on screen, so the notice alone does not say this PDF is written (a drill report
 * was looked for before it was, 1 run in several).
 * @param {Session} session @param {string} choice @param {string} folder
 */
async function saveFromPrintCentre(session, choice, folder) {
  const before = pdfsIn(folder);
  await session.waitFor('#print-title', { timeoutMs: 30000 });
  await clickText(session, 'label', choice);
  const field = await session.find('#print-folder');
  await session.clear(field);
  await session.type(field, folder);
  await clickText(session, 'button', 'Save as PDF');
  await session.waitFor('[data-testid="print-notice"]', { text: 'Saved the PDF', timeoutMs: 60000 });
  const deadline = Date.now() + 60000;
  while (pdfsIn(folder) <= before) {
    assert.ok(Date.now() < deadline, `no new PDF in ${folder} a minute after saving "${choice}"`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

test('the charge nurse path: checklist, status update printed, census sheet, end the drill, drill report', { timeout: 300000 }, async () => {
  const folder = mkdtempSync(join(tmpdir(), 'dtk-e2e-print-'));
  const session = await launch('#signin-title', 'sign-in screen');
  try {
    await signIn(session, 'demo.charge', DEMO_PASSWORD);
    await session.waitFor('[data-testid="signed-in-as"]', { text: 'Demo Charge Nurse', timeoutMs: 30000 });
    await clickText(session, 'nav[aria-label="Desks"] button', 'Charge desk');
    await session.waitFor('#episode-title', { timeoutMs: 30000 });
    await session.waitFor('[data-testid="episode-current"]', { text: 'DRILL', timeoutMs: 30000 });
    await shot(session, '16-charge-episode.png');

    // Tick the first checklist step: who and when are shown beside it.
    await clickText(session, 'nav[aria-label="Charge nurse desk sections"] button', 'Checklist');
    await session.waitFor('#checklist-title', { timeoutMs: 30000 });
    await session.click(await session.find('[data-testid="step-confirm-scope"] input[type="checkbox"]'));
    await session.waitFor('[data-testid="step-confirm-scope"]', { text: 'Done by demo.charge', timeoutMs: 30000 });
    await shot(session, '17-charge-checklist.png');

    // A status update drafted from the episode, kept, then printed for leaders: the PDF says what was kept.
    await clickText(session, 'nav[aria-label="Charge nurse desk sections"] button', 'Status updates');
    await clickText(session, 'button', 'Draft an update from the episode');
    await session.waitFor('section[aria-labelledby="updates-title"] p.notice', { text: 'Draft ready', timeoutMs: 30000 });
    const update = await session.find('#update-text');
    assert.match(/** @type {string} */ (await session.execute('return document.querySelector("#update-text").value')), /Severity: P3/);
    await session.type(update, 'Runner to pharmacy every 30 minutes.');
    await clickText(session, 'button', 'Keep with the episode');
    await session.waitFor('section[aria-labelledby="updates-title"] p.notice', { text: 'Update kept with the episode', timeoutMs: 30000 });
    await shot(session, '18-charge-status-update.png');
    await clickText(session, 'button', 'Print the latest kept update');
    await saveFromPrintCentre(session, 'Status update for leaders', folder);
    assert.equal(pdfsContaining(folder, 'Runner to pharmacy every 30 minutes.').length, 1, 'the printed update holds the kept text');

    // The census sheet names the unit's patients; it is marked DRILL like every page printed in a drill.
    await saveFromPrintCentre(session, 'Census sheet of the unit', folder);
    const census = pdfsContaining(folder, 'OKAFOR');
    assert.equal(census.length, 1, 'the census sheet names the patients');
    assert.ok(pdfsContaining(folder, 'DRILL').includes(census[0]), 'a drill census sheet is marked DRILL');
    await shot(session, '19-charge-print-centre.png');

    // End the drill, then the drill report: the tick and the printed sheets are in it.
    await clickText(session, 'nav[aria-label="Charge nurse desk sections"] button', 'Episode');
    await session.click(await session.waitFor('.end input[type="checkbox"]', { timeoutMs: 30000 }));
    await clickText(session, '.end button', 'End the drill');
    await session.waitFor('#declare-title', { timeoutMs: 30000 });
    await clickText(session, 'button', 'Drill report');
    await saveFromPrintCentre(session, 'Drill report', folder);
    const report = pdfsContaining(folder, 'Drill report');
    assert.equal(report.length, 1, 'one drill report');
    const text = execFileSync('pdftotext', ['-enc', 'UTF-8', join(folder, report[0]), '-'], { encoding: 'utf8' });
    assert.match(text, /UTC by\s+demo\.charge/, `the checklist tick is not in the drill report:\n${text}`);
    await shot(session, '20-charge-drill-report-saved.png');
  } finally {
    await session.end();
    rmSync(folder, { recursive: true, force: true });
  }
});

test('the administrator: add a user, import a roster, unlock an account locked by failed sign-ins, reset, disable', { timeout: 420000 }, async () => {
  const folder = mkdtempSync(join(tmpdir(), 'dtk-e2e-admin-'));
  const session = await launch('#signin-title', 'sign-in screen');
  try {
    await administerAccounts(session, { vault, password: PASSWORD, folder });
  } finally {
    await session.end();
    rmSync(folder, { recursive: true, force: true });
  }
});

test('the administrator: readiness, census from the folder, forms check with a refused form, verify, backup', { timeout: 420000 }, async () => {
  const folder = mkdtempSync(join(tmpdir(), 'dtk-e2e-site-'));
  const site = workstationSite(folder);
  // Read when the app opens the vault, so before the launch; put back afterwards for the tests that follow.
  const before = changeSite(vault, site);
  const session = await launch('#signin-title', 'sign-in screen');
  try {
    await administerWorkstation(session, { password: PASSWORD, site });
  } finally {
    await session.end();
    writeSite(vault, before);
    rmSync(folder, { recursive: true, force: true });
  }
});

test('idle lock: no patient data on the lock screen, the open form comes back after sign-in', { timeout: 300000 }, async () => {
  // A short idle timeout from the site configuration in the vault folder (30 s is the shortest the core accepts).
  changeSite(vault, { idle_timeout_secs: 30 });
  const session = await launch('#signin-title', 'sign-in screen');
  try {
    await signIn(session, 'demo.nurse', DEMO_PASSWORD);
    await session.type(await session.waitFor('#scan-field', { timeoutMs: 30000 }), 'DEV2013\uE007');
    await session.waitFor('[data-testid="patient-banner"]', { text: 'ØSTER', timeoutMs: 30000 });
    // The banner can come before the form list on a loaded machine: wait for the list, then choose.
    await session.waitFor('button.form-choice', { timeoutMs: 30000 });
    await clickText(session, 'button.form-choice', 'Nursing note');
    await session.type(await session.waitFor('textarea'), 'Half-written note');
    const idleStart = performance.now();
    await session.waitFor('#lock-title', { timeoutMs: 90000 });
    console.log(`idle lock after ${((performance.now() - idleStart) / 1000).toFixed(1)} s without input (configured 30 s)`);
    const text = /** @type {string} */ (await session.execute('return document.body.innerText'));
    for (const phi of ['ØSTER', 'Łukasz', 'DEV2013', 'Half-written']) assert.ok(!text.includes(phi), `the lock screen shows ${phi}`);
    await session.waitFor('[data-testid="lock-note"]', { text: 'kept as an encrypted draft' });
    await shot(session, '14-locked.png');

    await session.type(await session.find('#lock-password'), DEMO_PASSWORD);
    await session.click(await session.find('#lock-submit'));
    await session.waitFor('[data-testid="draft-restored"]', { timeoutMs: 30000 });
    assert.equal(await session.execute('return document.querySelector("textarea").value'), 'Half-written note');
    const origin = await session.execute('return performance.timeOrigin');
    // It stays open: nothing reloads the page or navigates away once the status and drafts have loaded.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await session.execute('return performance.timeOrigin'), origin, 'the page reloaded');
    assert.equal(await session.execute('return document.querySelector("textarea")?.value'), 'Half-written note');
    await shot(session, '15-draft-restored.png');
  } finally {
    await session.end();
  }
});
