// @ts-check
// What the desktop end-to-end tests share: where screenshots go, taking one, clicking by text, signing in, and
// changing the test site's configuration (site.json in the vault folder, read when the app opens the vault).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** @typedef {import('./webdriver.mjs').Session} Session */

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SHOTS = join(ROOT, 'target/e2e-screenshots');

/** @param {Session} session @param {string} name */
export async function shot(session, name) {
  // Two animation frames, so the screenshot shows what was just rendered rather than the previous paint.
  await session.executeAsync('const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(null)));');
  const png = await session.screenshot();
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', `${name} is not a PNG`);
  writeFileSync(join(SHOTS, name), png);
}

/** Clicks the first element matching `css` whose text contains `text`. @param {Session} session @param {string} css @param {string} text */
export async function clickText(session, css, text) {
  const ok = await session.execute(
    'const el = [...document.querySelectorAll(arguments[0])].find((e) => e.textContent.includes(arguments[1]));' +
      'if (!el) return false; el.click(); return true;',
    [css, text],
  );
  assert.equal(ok, true, `no ${css} with text ${text}`);
}

/** Types into the sign-in form (emptied first, as the screen may keep the last username) and submits it. @param {Session} session @param {string} username @param {string} password */
export async function signIn(session, username, password) {
  for (const [id, value] of [['#signin-username', username], ['#signin-password', password]]) {
    const field = await session.find(id);
    await session.clear(field);
    await session.type(field, value);
  }
  await session.click(await session.find('#signin-submit'));
}

/**
 * Merges `changes` into the site configuration of the vault folder (a key set to `undefined` is removed) and
 * returns the configuration as it was, to put back afterwards with `writeSite`.
 * @param {string} vault @param {Record<string, unknown>} changes
 */
export function changeSite(vault, changes) {
  const site = join(vault, 'site.json');
  const before = existsSync(site) ? JSON.parse(readFileSync(site, 'utf8')) : {};
  writeSite(vault, { ...before, ...changes });
  return before;
}

/** @param {string} vault @param {Record<string, unknown>} config */
export function writeSite(vault, config) {
  writeFileSync(join(vault, 'site.json'), JSON.stringify(config));
}
