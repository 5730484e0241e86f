// @ts-check
// The administrator's desk in the real window (issue 17 item 5): every task of the desk, each checked by what the
// administrator sees on screen and photographed. `administerAccounts`: add a user, import a roster CSV, an account
// locked by failed sign-ins and unlocked, a reset to a one-time password, a disabled account (and what each does at
// the sign-in screen). `administerWorkstation`: readiness, the census imported from census_import_dir (its age and
// patients, in the panel and the banner), the forms check with a refused form, verify, a backup into backup_dir.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT, clickText, shot, signIn } from './window.mjs';

/** @typedef {import('./webdriver.mjs').Session} Session */

/** As the core's `auth::LOCK_AFTER_FAILURES`: the failed sign-in that locks an account. */
const LOCK_AFTER_FAILURES = 11;

/** @param {Session} session @param {string} name */
async function openSection(session, name) {
  await clickText(session, 'nav[aria-label="Administrator desk sections"] button', name);
}

/**
 * Clicks `css` as a person would, brought to the middle of the window first: at the window's edge the sticky
 * DOWNTIME banner may cover it, and WebDriver refuses a click that another element would take.
 * @param {Session} session @param {string} css
 */
async function press(session, css) {
  const element = await session.find(css);
  await session.execute('document.querySelector(arguments[0]).scrollIntoView({ block: "center" });', [css]);
  await session.click(element);
}

/** A screenshot with `css` in the middle of the window (the row or result the step is about). @param {Session} session @param {string} css @param {string} name */
async function shotAt(session, css, name) {
  await session.execute('document.querySelector(arguments[0]).scrollIntoView({ block: "center" });', [css]);
  await shot(session, name);
}

/** @param {Session} session @param {string} password */
async function signInAdmin(session, password) {
  await signIn(session, 'admin', password);
  await session.waitFor('#desk-title', { text: 'Administrator desk', timeoutMs: 30000 });
}

/** @param {Session} session */
async function signOut(session) {
  await press(session, '#sign-out');
  await session.waitFor('#signin-title', { timeoutMs: 30000 });
}

/** The text of a user's row in the list. @param {Session} session @param {string} username */
async function userRow(session, username) {
  return session.text(await session.find(`[data-testid="user-list"] tr[data-username="${username}"]`));
}

/** The one-time passwords on screen, by username. @param {Session} session @returns {Promise<Record<string, string>>} */
async function oneTimePasswords(session) {
  await session.waitFor('[data-testid="one-time-passwords"] td.password', { timeoutMs: 30000 });
  return /** @type {Record<string, string>} */ (
    await session.execute(
      'return Object.fromEntries([...document.querySelectorAll(\'[data-testid="one-time-passwords"] tbody tr\')]' +
        '.map((r) => [r.querySelector("th").textContent.trim(), r.querySelector("td.password").textContent.trim()]));',
    )
  );
}

/** One statement on the vault file with the sqlite3 shell. @param {string} vault @param {string} sql */
function sqlite(vault, sql) {
  return execFileSync('sqlite3', ['-cmd', '.timeout 10000', join(vault, 'vault.sqlite3'), sql], { encoding: 'utf8' }).trim();
}

/**
 * Locks `username` the way the core locks an account: failed sign-ins in the sign-in screen, one after another until
 * the lock. The throttle's back-offs between them (30 s doubling to 15 min) are waited out by clearing their end
 * (`users.locked_until`, a column outside the row MAC that the throttle alone reads): the failure count itself only
 * ever grows through a real failed sign-in. @param {Session} session @param {string} vault @param {string} username
 */
async function lockBySignIns(session, vault, username) {
  const failures = () => Number(sqlite(vault, `SELECT failed_count FROM users WHERE username = '${username}'`));
  for (let n = failures() + 1; n <= LOCK_AFTER_FAILURES; n++) {
    await signIn(session, username, 'not-their-password');
    const deadline = Date.now() + 30000;
    while (failures() < n) {
      assert.ok(Date.now() < deadline, `failed sign-in ${n} of ${username} was not counted`);
      await new Promise((r) => setTimeout(r, 100));
    }
    sqlite(vault, `UPDATE users SET locked_until = NULL WHERE username = '${username}'`);
  }
}

/**
 * @param {Session} session
 * @param {{ vault: string, password: string, folder: string }} site the vault folder, the administrator's password,
 *   a scratch folder (the roster CSV is written there)
 */
export async function administerAccounts(session, { vault, password, folder }) {
  const roster = join(folder, 'roster.csv');
  writeFileSync(roster, 'username,display name,role\nroster.one,Rae Roster,nurse\nroster.two,Sol Roster,charge\n');
  await signInAdmin(session, password);

  // Add a user: a twelve-character one-time password, shown once; the list says it is pending.
  await openSection(session, 'Users');
  await session.waitFor('[data-testid="user-list"] tr[data-username="demo.nurse"]', { timeoutMs: 30000 });
  await session.type(await session.find('#add-username'), 'e2e.nurse');
  await session.type(await session.find('#add-name'), 'Eve Tester');
  await clickText(session, 'button[type="submit"]', 'Add the user');
  const added = await oneTimePasswords(session);
  assert.deepEqual(Object.keys(added), ['e2e.nurse']);
  assert.equal(added['e2e.nurse'].length, 12, 'a twelve-character one-time password is shown');
  await session.waitFor('[data-testid="user-list"] tr[data-username="e2e.nurse"]', { text: 'One-time password pending', timeoutMs: 30000 });
  await shotAt(session, '[data-testid="one-time-passwords"]', '22-admin-one-time-password.png');
  await clickText(session, 'button', 'Done — I have handed them over');

  // Import a roster CSV from a path on this workstation: each new account's one-time password.
  await session.type(await session.find('#roster-path'), roster);
  await clickText(session, 'button[type="submit"]', 'Import the roster');
  await session.waitFor('[data-testid="users-done"]', { text: '2 account(s) created, 0 already present', timeoutMs: 30000 });
  const imported = await oneTimePasswords(session);
  assert.deepEqual(Object.keys(imported).sort(), ['roster.one', 'roster.two']);
  assert.match(await userRow(session, 'roster.two'), /Sol Roster\s*Charge nurse\s*Active\s*One-time password pending/);
  await shotAt(session, '[data-testid="user-list"] tr[data-username="roster.one"]', '23-admin-roster-imported.png');
  await clickText(session, 'button', 'Done — I have handed them over');

  // Eleven wrong passwords lock roster.one: the sign-in screen says so, and names who may unlock it.
  await signOut(session);
  await lockBySignIns(session, vault, 'roster.one');
  await session.waitFor('[role="alert"]', { text: 'This account is locked', timeoutMs: 30000 });
  assert.match(await session.text(await session.find('[role="alert"]')), /locked after 11 failed sign-ins/);
  await shot(session, '24-sign-in-locked.png');

  // Unlock it from the desk.
  await signInAdmin(session, password);
  await openSection(session, 'Users');
  await session.waitFor('[data-testid="user-list"] tr[data-username="roster.one"]', { text: 'Locked', timeoutMs: 30000 });
  await shotAt(session, '[data-testid="user-list"] tr[data-username="roster.one"]', '25-admin-locked-user.png');
  await press(session, 'button[aria-label="Unlock roster.one"]');
  await session.waitFor('[data-testid="users-done"]', { text: 'Unlocked roster.one: their own password signs them in again', timeoutMs: 30000 });
  await session.waitFor('[data-testid="user-list"] tr[data-username="roster.one"]', { text: 'Active', timeoutMs: 30000 });
  assert.equal(await session.execute('return document.querySelector(\'button[aria-label="Unlock roster.one"]\')'), null);
  await shotAt(session, '[data-testid="user-list"] tr[data-username="roster.one"]', '26-admin-unlocked.png');

  // Reset it to a one-time password.
  await press(session, 'button[aria-label="Reset password for roster.one"]');
  await session.waitFor('[data-testid="users-done"]', { text: 'The password of roster.one was replaced with a one-time password', timeoutMs: 30000 });
  const reset = await oneTimePasswords(session);
  assert.deepEqual(Object.keys(reset), ['roster.one']);
  assert.notEqual(reset['roster.one'], imported['roster.one'], 'a new one-time password');
  await shotAt(session, '[data-testid="one-time-passwords"]', '27-admin-reset-password.png');
  await clickText(session, 'button', 'Done — I have handed them over');

  // Disable roster.two, after the confirmation (whose safe answer has the focus).
  await press(session, 'button[aria-label="Disable roster.two"]');
  await session.waitFor('[role="alertdialog"]', { text: 'Disable roster.two?', timeoutMs: 30000 });
  assert.equal(await session.execute('return document.activeElement.textContent.trim()'), 'Keep the account');
  await clickText(session, '[role="alertdialog"] button', 'Disable the account');
  await session.waitFor('[data-testid="users-done"]', { text: 'Disabled roster.two', timeoutMs: 30000 });
  await session.waitFor('[data-testid="user-list"] tr[data-username="roster.two"]', { text: 'Disabled', timeoutMs: 30000 });
  await shotAt(session, '[data-testid="user-list"] tr[data-username="roster.two"]', '28-admin-disabled.png');

  // At the sign-in screen: the disabled account is refused as a wrong password is; the reset one is asked to choose
  // its own password.
  await signOut(session);
  await signIn(session, 'roster.two', imported['roster.two']);
  await session.waitFor('[role="alert"]', { text: 'not correct', timeoutMs: 30000 });
  await signIn(session, 'roster.one', reset['roster.one']);
  await session.waitFor('#password-title', { text: 'Choose your password', timeoutMs: 30000 });
  await shot(session, '29-reset-user-chooses-password.png');
}

/**
 * Makes the site's folders under `folder` and returns the site.json settings naming them: a census folder holding
 * the demo unit's census exported again just now (as the EHR's job would), a forms folder with the bundled forms and
 * one broken form, and a backup folder. @param {string} folder
 */
export function workstationSite(folder) {
  const census = join(folder, 'census');
  const forms = join(folder, 'forms');
  const backups = join(folder, 'backups');
  for (const d of [census, forms, backups]) mkdirSync(d, { recursive: true });
  const demoCensus = JSON.parse(readFileSync(join(ROOT, 'assets/demo/census-demo.json'), 'utf8'));
  writeFileSync(join(census, '5east-census.json'), JSON.stringify({ ...demoCensus, timestamp: new Date().toISOString() }));
  for (const f of readdirSync(join(ROOT, 'forms')).filter((f) => f.endsWith('.json'))) {
    copyFileSync(join(ROOT, 'forms', f), join(forms, f));
  }
  writeFileSync(
    join(forms, 'broken-form.json'),
    JSON.stringify({ resourceType: 'Questionnaire', url: 'http://example.org/broken', status: 'final', title: 'Broken', item: [] }),
  );
  return { census_import_dir: census, forms_dir: forms, backup_dir: backups };
}

/** The text of a readiness check's row (its name, status and detail). @param {Session} session @param {string} name */
async function readinessRow(session, name) {
  const text = await session.execute(
    'const row = [...document.querySelectorAll(\'[data-testid="readiness-checks"] tbody tr\')]' +
      '.find((r) => r.querySelector("th").textContent.trim() === arguments[0]);' +
      'return row ? row.innerText : null;',
    [name],
  );
  assert.equal(typeof text, 'string', `no readiness check ${name}`);
  return /** @type {string} */ (text);
}

/**
 * @param {Session} session
 * @param {{ password: string, site: ReturnType<typeof workstationSite> }} ws the administrator's password and the
 *   folders `workstationSite` made (named in site.json before the app was launched)
 */
export async function administerWorkstation(session, { password, site }) {
  await signInAdmin(session, password);
  // The home screen is readiness. The demo census was taken weeks ago and the demo site names no HIM key: both are
  // named as not ready.
  await session.waitFor('[data-testid="readiness-checks"] tbody tr', { timeoutMs: 30000 });
  const verdict = await session.text(await session.find('[data-testid="readiness-verdict"]'));
  assert.match(verdict, /Not ready: .*census/);
  assert.match(verdict, /him_key/);
  assert.match(await readinessRow(session, 'census'), /Not ready\s+census is stale/);
  await shot(session, '21-admin-readiness.png');

  // Census: the snapshot's age and patients, a file of census_import_dir imported by name; the banner follows.
  await openSection(session, 'Census');
  await session.waitFor('[data-testid="census-state"]', { text: 'Not ready', timeoutMs: 30000 });
  await session.waitFor('[data-testid="banner-snapshot"]', { text: 'days old', timeoutMs: 30000 });
  await session.click(await session.waitFor('button[aria-label="Import 5east-census.json"]', { timeoutMs: 30000 }));
  await session.waitFor('[data-testid="census-done"]', { text: 'Imported 5east-census.json: 14 patients', timeoutMs: 30000 });
  await session.waitFor('[data-testid="census-state"]', { text: 'Ready: census of 14 patients taken 0 h ago', timeoutMs: 30000 });
  assert.match(await session.text(await session.find('[data-testid="census-snapshot"]')), /\(0 h ago\)/);
  assert.equal((await session.text(await session.find('[data-testid="census-patients"]'))).trim(), '14');
  await session.waitFor('[data-testid="banner-snapshot"]', { text: 'min old', timeoutMs: 30000 });
  assert.match(await session.text(await session.find('[data-testid="banner-snapshot"]')), /^Census \d+ min old$/);
  await shot(session, '30-admin-census.png');

  // Forms check: the five bundled forms loaded, the broken one refused with why.
  await openSection(session, 'Forms check');
  const refused = await session.text(await session.waitFor('[data-testid="forms-refused"]', { timeoutMs: 30000 }));
  assert.match(refused, /^1 form file\(s\) refused/);
  assert.match(refused, /broken-form\.json/);
  assert.match(refused, /status 'final' is not a Questionnaire status/);
  assert.match(await session.text(await session.find('[data-testid="forms-loaded"] caption')), /^5 form\(s\) loaded$/);
  await shotAt(session, '[data-testid="forms-refused"]', '31-admin-forms-check.png');

  // Verify: every record and the audit chain, recorded for readiness.
  await openSection(session, 'Verify');
  await clickText(session, 'button', 'Verify now');
  await session.waitFor('[data-testid="verify-intact"]', { text: 'Vault intact', timeoutMs: 120000 });
  await shot(session, '32-admin-verify.png');

  // Backup: a file appears in the folder the panel names.
  await openSection(session, 'Backup');
  await session.waitFor('[data-testid="backup-status"]', { text: site.backup_dir, timeoutMs: 30000 });
  await clickText(session, 'button', 'Back up now');
  const done = await session.text(await session.waitFor('[data-testid="backup-done"]', { text: 'Backup written', timeoutMs: 120000 }));
  const file = /Backup written: (.+) \(\d+ KiB\)\.$/.exec(done.trim())?.[1] ?? '';
  assert.equal(dirname(file), site.backup_dir, `the backup is in the panel's folder: ${done}`);
  assert.ok(existsSync(file), `the backup file exists: ${file}`);
  await session.waitFor('[data-testid="backup-state"]', { text: 'Up to date', timeoutMs: 30000 });
  await shot(session, '33-admin-backup.png');

  // Readiness again: the census is fresh, verify intact, the backup recent; the refused form is a warning; the HIM
  // key is still missing.
  await openSection(session, 'Readiness');
  await session.waitFor('[data-testid="readiness-checks"] tbody tr', { timeoutMs: 30000 });
  const after = await session.text(await session.find('[data-testid="readiness-verdict"]'));
  assert.match(after, /him_key/);
  assert.doesNotMatch(after, /census/);
  assert.match(await readinessRow(session, 'census'), /OK\s+census of 14 patients taken 0 h ago/);
  assert.match(await readinessRow(session, 'last_verify'), /intact/);
  assert.match(await readinessRow(session, 'forms'), /Warning\s+5 forms loaded; \d+ refused: .*broken-form\.json/);
  assert.match(await readinessRow(session, 'last_backup'), /^last_backup\s+OK/);
  await shot(session, '34-admin-readiness-after.png');
}
