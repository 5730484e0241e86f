// @ts-check
// A minimal W3C WebDriver client (the few endpoints the desktop e2e tests use), on Node's built-in fetch.
//
// WebdriverIO would work too, but it brings hundreds of packages for a handful of HTTP calls; this keeps `npm ci`
// small and the failure messages ours.

/** @typedef {{ 'element-6066-11e4-a52e-4f735466cecf': string }} ElementRef */
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class WebDriverError extends Error {
  /** @param {string} message @param {string} [error] */
  constructor(message, error) {
    super(message);
    this.name = 'WebDriverError';
    this.error = error;
  }
}

/**
 * @param {string} base
 * @param {'GET' | 'POST' | 'DELETE'} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<any>}
 */
async function request(base, method, path, body) {
  /** @type {RequestInit} */
  const init = { method, headers: { 'content-type': 'application/json' } };
  if (body !== undefined) init.body = JSON.stringify(body);
  else if (method === 'POST') init.body = '{}';
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  /** @type {any} */
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WebDriverError(`${method} ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok || (json.value && json.value.error)) {
    const v = json.value ?? {};
    throw new WebDriverError(`${method} ${path}: ${v.error ?? response.status}: ${v.message ?? text.slice(0, 200)}`, v.error);
  }
  return json.value;
}

/** One WebDriver session: one launch of the app. */
export class Session {
  /** @param {string} base @param {string} id */
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  /**
   * Starts a session, which launches the app named in the capabilities.
   * @param {string} base e.g. http://127.0.0.1:4444
   * @param {Record<string, unknown>} capabilities
   */
  static async start(base, capabilities) {
    const value = await request(base, 'POST', '/session', { capabilities: { alwaysMatch: capabilities } });
    return new Session(base, value.sessionId);
  }

  /** @param {'GET' | 'POST' | 'DELETE'} method @param {string} path @param {unknown} [body] */
  call(method, path, body) {
    return request(this.base, method, `/session/${this.id}${path}`, body);
  }

  /** @param {string} css @returns {Promise<string>} the element id */
  async find(css) {
    /** @type {ElementRef} */
    const ref = await this.call('POST', '/element', { using: 'css selector', value: css });
    return ref[ELEMENT];
  }

  /**
   * Waits until an element matching `css` exists (and, when given, its text contains `text`).
   * @param {string} css @param {{ text?: string, timeoutMs?: number }} [options]
   */
  async waitFor(css, { text, timeoutMs = 15000 } = {}) {
    const deadline = Date.now() + timeoutMs;
    /** @type {unknown} */
    let last;
    for (;;) {
      try {
        const id = await this.find(css);
        if (text === undefined) return id;
        const actual = await this.text(id);
        if (actual.includes(text)) return id;
        last = new Error(`text was ${JSON.stringify(actual)}`);
      } catch (error) {
        last = error;
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${css}${text ? ` containing "${text}"` : ''}: ${String(last)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** @param {string} id */
  async text(id) {
    return /** @type {string} */ (await this.call('GET', `/element/${id}/text`));
  }

  /** @param {string} id */
  click(id) {
    return this.call('POST', `/element/${id}/click`);
  }

  /** @param {string} id @param {string} text */
  type(id, text) {
    return this.call('POST', `/element/${id}/value`, { text });
  }

  /** @param {string} id */
  clear(id) {
    return this.call('POST', `/element/${id}/clear`);
  }

  /** @param {string} script @param {unknown[]} [args] */
  execute(script, args = []) {
    return this.call('POST', '/execute/sync', { script, args });
  }

  /** Runs an async script: its last argument is the callback that returns a value. @param {string} script @param {unknown[]} [args] */
  executeAsync(script, args = []) {
    return this.call('POST', '/execute/async', { script, args });
  }

  /** Loads a URL in the current window. @param {string} url */
  navigate(url) {
    return this.call('POST', '/url', { url });
  }

  /** Sends keys to whatever has focus (a scanner, or a person typing). @param {string} text */
  keys(text) {
    return this.call('POST', '/actions', {
      actions: [{ type: 'key', id: 'keyboard', actions: [...text].flatMap((value) => [{ type: 'keyDown', value }, { type: 'keyUp', value }]) }],
    });
  }

  /** @returns {Promise<Buffer>} a PNG of the window's content */
  async screenshot() {
    const base64 = /** @type {string} */ (await this.call('GET', '/screenshot'));
    return Buffer.from(base64, 'base64');
  }

  async end() {
    await request(this.base, 'DELETE', `/session/${this.id}`);
  }
}
