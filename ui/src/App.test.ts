// Unit tests of the screens against the in-memory backend: first run, recovery key, sign-in errors, home, sign out.
import { describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from './App.svelte';
import { BackendError, type Backend } from './lib/backend';
import { MemoryBackend } from './lib/backend/memory';

const seeded = () =>
  new MemoryBackend({
    unit: '5 East',
    users: { drivera: { displayName: 'Dana Rivera', password: 'correct horse battery', role: 'charge' } },
  });

async function fillSetup(user: ReturnType<typeof userEvent.setup>, passwordAgain = 'correct horse battery') {
  await user.type(await screen.findByLabelText('Unit name'), '5 East');
  await user.type(screen.getByLabelText('Administrator username'), 'admin');
  await user.type(screen.getByLabelText('Administrator display name'), 'Alex Admin');
  await user.type(screen.getByLabelText('Password'), 'correct horse battery');
  await user.type(screen.getByLabelText('Password again'), passwordAgain);
}

describe('first run', () => {
  it('creates the vault, shows the recovery key once, then signs in to the home screen', async () => {
    const user = userEvent.setup();
    const backend = new MemoryBackend();
    render(App, { backend });

    expect(await screen.findByRole('heading', { name: 'Set up this workstation' })).toBeInTheDocument();
    await fillSetup(user);
    await user.click(screen.getByRole('checkbox', { name: /Load demo unit/ }));
    await user.click(screen.getByRole('button', { name: 'Create the vault' }));

    expect(await screen.findByRole('heading', { name: 'Write down the recovery key' })).toBeInTheDocument();
    expect(screen.getByTestId('recovery-key').textContent).toMatch(/^[A-Z2-7]{4}(-[A-Z2-7]{4})+$/);
    expect(backend.demoLoaded).toBe(true);

    const next = screen.getByRole('button', { name: 'Continue to sign in' });
    expect(next).toBeDisabled();
    await user.click(screen.getByRole('checkbox', { name: 'I have written it down' }));
    await user.click(next);

    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(screen.queryByTestId('recovery-key')).not.toBeInTheDocument();
    await user.type(screen.getByLabelText('Username'), 'admin');
    await user.type(screen.getByLabelText('Password'), 'correct horse battery');
    await user.keyboard('{Enter}');

    expect(await screen.findByTestId('signed-in-as')).toHaveTextContent('Signed in as Alex Admin (Administrator)');
    expect(screen.getByRole('banner', { name: 'Downtime status' })).toHaveTextContent('DOWNTIME');
    expect(screen.getByRole('banner', { name: 'Downtime status' })).toHaveTextContent('Unit: 5 East');
  });

  it('does not pass the demo option unless it is ticked', async () => {
    const user = userEvent.setup();
    const backend = new MemoryBackend();
    render(App, { backend });
    await fillSetup(user);
    await user.click(screen.getByRole('button', { name: 'Create the vault' }));
    await screen.findByRole('heading', { name: 'Write down the recovery key' });
    expect(backend.demoLoaded).toBe(false);
  });

  it('refuses two different passwords without calling the backend', async () => {
    const user = userEvent.setup();
    const backend = new MemoryBackend();
    render(App, { backend });
    await fillSetup(user, 'something else');
    await user.click(screen.getByRole('button', { name: 'Create the vault' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The two passwords are not the same.');
    expect(backend.calls).not.toContain('setUp');
  });

  it('lists every missing field', async () => {
    const user = userEvent.setup();
    render(App, { backend: new MemoryBackend() });
    await user.click(await screen.findByRole('button', { name: 'Create the vault' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Enter the unit name.');
    expect(alert).toHaveTextContent('Enter the administrator username.');
    expect(alert).toHaveTextContent('Enter a password.');
  });

  it('shows the core\'s invalid_input message as it is', async () => {
    const user = userEvent.setup();
    const backend = new MemoryBackend();
    backend.setUp = async () => {
      throw new BackendError('invalid_input', 'The password must be at least 12 characters.');
    };
    render(App, { backend });
    await fillSetup(user);
    await user.click(screen.getByRole('button', { name: 'Create the vault' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The password must be at least 12 characters.');
  });
});

describe('sign in', () => {
  it('opens on the sign-in screen when the vault exists, naming the unit', async () => {
    render(App, { backend: seeded() });
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(screen.getByText('5 East', { selector: 'strong' })).toBeInTheDocument();
    expect(screen.getByLabelText('Username')).toHaveFocus();
  });

  it('explains a wrong password by its code and clears the password field', async () => {
    const user = userEvent.setup();
    render(App, { backend: seeded() });
    await user.type(await screen.findByLabelText('Username'), 'drivera');
    await user.type(screen.getByLabelText('Password'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('The username or password is not correct.');
    expect(screen.getByLabelText('Password')).toHaveValue('');
    expect(screen.getByLabelText('Password')).toHaveFocus();
  });

  it('answers an unknown user as a wrong password, naming neither', async () => {
    const user = userEvent.setup();
    render(App, { backend: seeded() });
    await user.type(await screen.findByLabelText('Username'), 'nobody');
    await user.type(screen.getByLabelText('Password'), 'x');
    await user.keyboard('{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('The username or password is not correct');
  });

  it('says whom to ask when the account is locked', async () => {
    const user = userEvent.setup();
    const backend = seeded();
    backend.signIn = async () => {
      throw new BackendError(
        'account_locked',
        "the account 'drivera' is locked after 11 failed sign-ins; ask a charge nurse or an administrator to unlock it",
      );
    };
    render(App, { backend });
    await user.type(await screen.findByLabelText('Username'), 'drivera');
    await user.type(screen.getByLabelText('Password'), 'x');
    await user.keyboard('{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('ask a charge nurse or an administrator to unlock it');
  });

  it('passes on how long a throttled user must wait', async () => {
    const user = userEvent.setup();
    const backend = seeded();
    backend.signIn = async () => {
      throw new BackendError('throttled', 'Try again in 30 seconds.');
    };
    render(App, { backend });
    await user.type(await screen.findByLabelText('Username'), 'drivera');
    await user.type(screen.getByLabelText('Password'), 'x');
    await user.keyboard('{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('Too many failed sign-ins for this user. Try again in 30 seconds.');
  });

  it('signs out back to the sign-in screen', async () => {
    const user = userEvent.setup();
    const backend = seeded();
    render(App, { backend });
    await user.type(await screen.findByLabelText('Username'), 'drivera');
    await user.type(screen.getByLabelText('Password'), 'correct horse battery');
    await user.keyboard('{Enter}');
    expect(await screen.findByTestId('signed-in-as')).toHaveTextContent('Dana Rivera (Charge nurse)');
    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(await backend.currentSession()).toBeNull();
  });

  it('shows names with markup as text and runs no script', async () => {
    const user = userEvent.setup();
    const payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
    const backend = new MemoryBackend({
      unit: '<b>5 East</b>',
      users: { n: { displayName: payload, password: 'p', role: 'nurse' } },
    });
    render(App, { backend });
    await user.type(await screen.findByLabelText('Username'), 'n');
    await user.type(screen.getByLabelText('Password'), 'p');
    await user.keyboard('{Enter}');
    expect(await screen.findByTestId('signed-in-as')).toHaveTextContent(payload);
    expect(document.querySelector('img, script, b')).toBeNull();
    expect((window as unknown as { __xss?: number }).__xss).toBeUndefined();
  });
});

describe('passwords', () => {
  const roster = () =>
    new MemoryBackend({
      unit: '5 East',
      users: { rpatel: { displayName: 'Ravi Patel', password: 'K7QX-one-time', role: 'nurse', mustChange: true } },
    });

  /** Types the new password twice (clearing what was there) and saves. */
  async function choose(user: ReturnType<typeof userEvent.setup>, first: string, second = first) {
    await user.clear(screen.getByLabelText('New password'));
    await user.clear(screen.getByLabelText('New password again'));
    await user.type(screen.getByLabelText('New password'), first);
    await user.type(screen.getByLabelText('New password again'), second);
    await user.click(screen.getByRole('button', { name: 'Save my password' }));
  }

  async function signIn(user: ReturnType<typeof userEvent.setup>, name: string, password: string) {
    await user.type(await screen.findByLabelText('Username'), name);
    await user.type(screen.getByLabelText('Password'), password);
    await user.keyboard('{Enter}');
  }

  it('leads a one-time password straight to choosing one, with the rules, then to the desk', async () => {
    const user = userEvent.setup();
    const backend = roster();
    render(App, { backend });
    await signIn(user, 'rpatel', 'K7QX-one-time');

    expect(await screen.findByRole('heading', { name: 'Choose your password' })).toBeInTheDocument();
    expect(await screen.findByTestId('password-rules')).toHaveTextContent('At least 8 characters, and not your username.');
    expect(screen.queryByRole('heading', { name: 'Patients' })).not.toBeInTheDocument();
    expect(screen.queryByLabelText('Current password')).not.toBeInTheDocument();

    await choose(user, 'bedside lamp 42', 'bedside lamp 24');
    expect(await screen.findByRole('alert')).toHaveTextContent('The two new passwords are not the same');
    expect(backend.calls).not.toContain('changePassword');
    await choose(user, 'short');
    expect(await screen.findByRole('alert')).toHaveTextContent('it must have at least 8 characters');
    await choose(user, 'bedside lamp 42');
    expect(await screen.findByRole('status')).toHaveTextContent('Your password was changed.');
    expect(screen.queryByRole('heading', { name: 'Choose your password' })).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Change my password' })).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    await signIn(user, 'rpatel', 'bedside lamp 42');
    expect(await screen.findByTestId('signed-in-as')).toHaveTextContent('Ravi Patel');
    expect(screen.queryByRole('heading', { name: 'Choose your password' })).not.toBeInTheDocument();
  });

  it('changes my password only with the current one, and can be cancelled', async () => {
    const user = userEvent.setup();
    const backend = seeded();
    render(App, { backend });
    await signIn(user, 'drivera', 'correct horse battery');
    await user.click(await screen.findByRole('button', { name: 'Change my password' }));
    expect(await screen.findByRole('heading', { name: 'Change my password' })).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('heading', { name: 'Change my password' })).not.toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Change my password' }));
    await user.type(await screen.findByLabelText('Current password'), 'not my password');
    await choose(user, 'night shift 0300');
    expect(await screen.findByRole('alert')).toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Change my password' })).toBeInTheDocument();

    await user.clear(screen.getByLabelText('Current password'));
    await user.type(screen.getByLabelText('Current password'), 'correct horse battery');
    await user.click(screen.getByRole('button', { name: 'Save my password' }));
    expect(await screen.findByRole('status')).toHaveTextContent('Your password was changed.');
  });
});

describe('the banner', () => {
  it('shows every user of the unit the overdue checklist steps and status update', async () => {
    const backend = new MemoryBackend({
      unit: '5 East',
      users: { jnurse: { displayName: 'Jo Nurse', password: 'pw', role: 'nurse' } },
      signedIn: 'jnurse',
      charge: {
        episode: {
          drill: false,
          severity: 'P2',
          affected: ['EHR'],
          impact: 'Results by phone only',
          reason: null,
          nextUpdateMinutes: 30,
          beganMinutesAgo: null,
          minutesAgo: 45,
        },
      },
    });
    render(App, { backend });
    const banner = await screen.findByRole('banner', { name: 'Downtime status' });
    expect(await within(banner).findByTestId('banner-episode')).toHaveTextContent('severity P2');
    expect(await within(banner).findByTestId('overdue-notice')).toHaveTextContent(
      '3 overdue on the downtime checklist · status update overdue',
    );
  });
});

describe('start-up', () => {
  it('resumes the home screen when the Rust side still has a session', async () => {
    const backend: Backend = seeded();
    await backend.signIn({ username: 'drivera', password: 'correct horse battery' });
    render(App, { backend });
    expect(await screen.findByTestId('signed-in-as')).toHaveTextContent('Dana Rivera');
  });

  it('tells the core the person is here when they use the app', async () => {
    const user = userEvent.setup();
    const backend = seeded();
    await backend.signIn({ username: 'drivera', password: 'correct horse battery' });
    render(App, { backend });
    await user.click(await screen.findByTestId('signed-in-as'));
    expect(backend.calls).toContain('keepAlive');
  });

  it('locks when the core has ended the session, saying why', async () => {
    const backend = seeded();
    await backend.signIn({ username: 'drivera', password: 'correct horse battery' });
    // The banner's refresh finds the session over (idle past the site's limit in the core).
    backend.downtimeStatus = async () => {
      throw new BackendError('session_ended', 'the session was locked after 5 min without use: sign in again');
    };
    render(App, { backend });
    expect(await screen.findByTestId('lock-note')).toHaveTextContent(
      'Signed out by the workstation: the session was locked after 5 min without use: sign in again.',
    );
    expect(screen.queryByTestId('signed-in-as')).not.toBeInTheDocument();
  });

  it('says the app cannot start, and offers to try again, when the backend fails', async () => {
    const user = userEvent.setup();
    const backend = seeded();
    let fail = true;
    const status = backend.status.bind(backend);
    backend.status = async () => {
      if (fail) throw new BackendError('integrity', 'audit chain broken at row 7');
      return status();
    };
    render(App, { backend });
    expect(await screen.findByRole('alert')).toHaveTextContent('The vault failed its integrity check.');
    fail = false;
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
  });
});

describe('demo unit', () => {
  it('keeps the recovery key on screen when the demo unit fails to load', async () => {
    const user = userEvent.setup();
    const backend = new MemoryBackend();
    const setUp = backend.setUp.bind(backend);
    backend.setUp = async (request) => ({
      ...(await setUp(request)),
      demoLoaded: false,
      demoError: { code: 'storage_full', message: 'disk full' },
    });
    render(App, { backend });
    await fillSetup(user);
    await user.click(screen.getByRole('checkbox', { name: /Load demo unit/ }));
    await user.click(screen.getByRole('button', { name: 'Create the vault' }));
    expect(await screen.findByTestId('recovery-key')).toBeInTheDocument();
    expect(screen.getByRole('alert')).toHaveTextContent('The demo unit could not be loaded: The workstation disk is full.');
  });
});
