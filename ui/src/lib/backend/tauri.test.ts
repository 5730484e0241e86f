// Tests of the IPC Backend against Tauri's IPC mock: command names, argument shapes, and { code, message } errors.
import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { BackendError } from './index';
import { TauriBackend } from './tauri';

afterEach(() => clearMocks());

describe('TauriBackend', () => {
  it('sends each call to its Rust command with the request under `request`', async () => {
    const seen: Array<[string, unknown]> = [];
    mockIPC((command, payload) => {
      seen.push([command, payload]);
      switch (command) {
        case 'app_status':
          return { initialised: true, unit: '5 East' };
        case 'sign_in':
          return { username: 'drivera', displayName: 'Dana Rivera', role: 'charge', mustChangePassword: false };
        default:
          return null;
      }
    });
    const backend = new TauriBackend();
    expect(await backend.status()).toEqual({ initialised: true, unit: '5 East' });
    const session = await backend.signIn({ username: 'drivera', password: 'pw' });
    expect(session.role).toBe('charge');
    await backend.signOut();
    expect(await backend.currentSession()).toBeNull();
    expect(seen.map(([command]) => command)).toEqual(['app_status', 'sign_in', 'sign_out', 'current_session']);
    expect(seen[1]?.[1]).toEqual({ request: { username: 'drivera', password: 'pw' } });
  });

  it('turns a rejected { code, message } into a BackendError with that code', async () => {
    mockIPC(() => {
      throw { code: 'bad_credentials', message: 'wrong password' };
    });
    const error = await new TauriBackend().signIn({ username: 'a', password: 'b' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe('bad_credentials');
  });

  it('turns a rejection of any other shape into `internal`', async () => {
    mockIPC(() => {
      throw new Error('command set_up not found');
    });
    const error = await new TauriBackend().setUp({
      unit: 'u',
      admin: 'a',
      displayName: 'd',
      password: 'p',
      loadDemo: false,
    }).catch((e: unknown) => e);
    expect((error as BackendError).code).toBe('internal');
  });
});
