// Tests of the backend contract's error handling and of the folder rule: only lib/backend imports @tauri-apps.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendError, isCommandError, toBackendError } from './index';

describe('IPC errors', () => {
  it('keeps the code and message of a well-formed rejection', () => {
    const error = toBackendError({ code: 'throttled', message: 'Try again in 30 seconds.' });
    expect(error).toBeInstanceOf(BackendError);
    expect(error.code).toBe('throttled');
    expect(error.message).toBe('Try again in 30 seconds.');
  });

  it('turns anything else into an internal error without echoing it', () => {
    for (const value of ['boom', { code: 'made_up', message: 'x' }, { code: 'io' }, null, 42]) {
      expect(isCommandError(value)).toBe(false);
      const error = toBackendError(value);
      expect(error.code).toBe('internal');
      expect(error.message).not.toContain('boom');
    }
  });
});

describe('folder rule', () => {
  it('imports @tauri-apps only from ui/src/lib/backend', () => {
    const backend = dirname(fileURLToPath(import.meta.url));
    const src = resolve(backend, '../..');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) {
          walk(path);
        } else if (/\.(ts|js|svelte)$/.test(name) && !path.startsWith(backend)) {
          if (/from\s+['"]@tauri-apps\/|import\(\s*['"]@tauri-apps\//.test(readFileSync(path, 'utf8'))) {
            offenders.push(relative(src, path));
          }
        }
      }
    };
    walk(src);
    expect(offenders).toEqual([]);
  });
});
