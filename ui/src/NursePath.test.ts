// The nurse's whole path through the app frame, with the keyboard alone: sign in, scan a patient, fill and save a
// medication administration, sign it. Then the idle lock: the screen locks with no patient data on it, the open
// form is kept as an encrypted draft and comes back to the same user only; "Switch user" lets a colleague in.
import { describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import App from './App.svelte';
import { MemoryBackend } from './lib/backend/memory';

function demo(idleTimeoutSecs = 300) {
  return new MemoryBackend({ unit: '5 East', users: {}, demo: true, idleTimeoutSecs });
}

type User = ReturnType<typeof userEvent.setup>;

function label(element: Element | null): string {
  if (!element) return '';
  const input = element as HTMLInputElement;
  const byLabel = input.labels?.[0]?.textContent ?? '';
  return `${byLabel} ${element.getAttribute('aria-label') ?? ''} ${element.textContent ?? ''}`.replace(/\s+/g, ' ');
}

/** Presses Tab (never the mouse) until the focused element's label matches. */
async function tabTo(user: User, match: RegExp) {
  for (let i = 0; i < 120; i++) {
    if (match.test(label(document.activeElement))) return;
    await user.tab();
  }
  throw new Error(`Tab never reached ${match}; last focus: ${label(document.activeElement)}`);
}

/** Moves through a radio group with the arrow keys (as a keyboard user does) until `match` is chosen. */
async function arrowTo(user: User, match: RegExp) {
  for (let i = 0; i < 30; i++) {
    if (match.test(label(document.activeElement)) && (document.activeElement as HTMLInputElement).checked) return;
    await user.keyboard('{ArrowDown}');
  }
  throw new Error(`the arrow keys never reached ${match}; last focus: ${label(document.activeElement)}`);
}

async function signIn(user: User, username: string) {
  expect(await screen.findByLabelText('Username')).toHaveFocus();
  await user.keyboard(username);
  await user.tab();
  await user.keyboard('demo-password{Enter}');
}

describe('the nurse path, keyboard only', () => {
  it('signs in, scans a patient, charts a medication administration, saves and signs', { timeout: 30_000 }, async () => {
    const user = userEvent.setup();
    const backend = demo();
    render(App, { backend });
    await signIn(user, 'demo.nurse');

    const scan = await screen.findByLabelText(/Scan the wristband/);
    await waitFor(() => expect(scan).toHaveFocus());
    await screen.findByText('14 of 14 patients shown.');
    await user.keyboard('DEV2003{Enter}');
    expect(await screen.findByTestId('patient-banner')).toHaveTextContent('OKAFOR, Chidi');

    await tabTo(user, /Medication administration/);
    await user.keyboard('{Enter}');
    expect(await screen.findByRole('heading', { name: /Medication administration/ })).toHaveFocus();

    await tabTo(user, /^ ?acetaminophen/);
    await arrowTo(user, /^ ?morphine/);
    await tabTo(user, /^ ?Dose/);
    await user.keyboard('2');
    await tabTo(user, /Oral route/);
    await arrowTo(user, /Intravenous route/);
    await tabTo(user, /^ ?Now/);
    await user.keyboard('{Enter}');
    await tabTo(user, /^ ?Given/);
    await user.keyboard(' ');
    expect(screen.getByRole('radio', { name: 'Given' })).toBeChecked();
    expect(screen.getByRole('radio', { name: 'morphine' })).toBeChecked();
    await tabTo(user, /^ ?Save$/);
    await user.keyboard('{Enter}');

    const confirmation = await screen.findByTestId('save-confirmation');
    expect(confirmation).toHaveTextContent(/Saved on this workstation at \d\d:\d\d:\d\d/);
    await waitFor(() => expect(confirmation).toHaveFocus());
    await waitFor(() => expect(screen.getByTestId('banner-last-save')).toHaveTextContent(/Last save stored/));

    await tabTo(user, /Sign this entry/);
    await user.keyboard('{Enter}');
    expect(await screen.findByTestId('save-confirmation')).toHaveTextContent('Signed on this workstation');
    expect([...backend.state.entries.values()][0]!.summary.status).toBe('signed');

    // The banner names the episode, the unit, the census age and the user.
    const banner = screen.getByRole('banner', { name: 'Downtime status' });
    expect(banner).toHaveTextContent('DOWNTIME DRILL');
    expect(banner).toHaveTextContent('Unit: 5 East');
    expect(banner).toHaveTextContent(/Census .* old/);
    expect(banner).toHaveTextContent('Demo Nurse');
  });
});

describe('amend and entered-in-error', () => {
  it('amends a signed entry into a new version and marks another entered-in-error with a reason', { timeout: 30_000 }, async () => {
    const user = userEvent.setup();
    const backend = demo();
    render(App, { backend });
    await signIn(user, 'demo.nurse');
    await screen.findByText('14 of 14 patients shown.');
    await user.keyboard('DEV2003{Enter}');
    await user.click(await screen.findByRole('button', { name: 'Nursing note' }));
    await user.click(screen.getByRole('radio', { name: 'Assessment' }));
    await user.click(screen.getByRole('button', { name: /^Now/ }));
    await user.type(screen.getByLabelText(/^Note/), 'Resting, no pain.');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByTestId('save-confirmation');
    await user.click(screen.getByRole('button', { name: 'Sign this entry' }));
    await screen.findByText(/Signed on this workstation/);
    await user.click(screen.getByRole('button', { name: 'Back to patient' }));

    await user.click(within(await screen.findByRole('table')).getByRole('button', { name: 'Nursing note' }));
    await user.click(await screen.findByRole('button', { name: 'Amend' }));
    expect(await screen.findByRole('heading', { name: 'Amend: Nursing note' })).toBeInTheDocument();
    expect(screen.getByLabelText(/^Note/)).toHaveValue('Resting, no pain.');
    await user.clear(screen.getByLabelText(/^Note/));
    await user.type(screen.getByLabelText(/^Note/), 'Resting, pain 2/10.');
    await user.type(screen.getByLabelText(/Reason for the amendment/), 'pain score left out');
    await user.click(screen.getByRole('button', { name: 'Save the amendment' }));
    expect(await screen.findByTestId('save-confirmation')).toHaveTextContent(/Amendment saved .* Version 2/);

    await user.click(screen.getByRole('button', { name: 'Back to patient' }));
    await user.click(within(await screen.findByRole('table')).getByRole('button', { name: 'Nursing note' }));
    expect(await screen.findByText(/Version 2: amendment/)).toBeInTheDocument();
    expect(screen.getByText(/Version 1: original/)).toBeInTheDocument();
    expect(screen.getByText('Reason: pain score left out')).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Mark entered in error' }));
    await user.click(screen.getAllByRole('button', { name: 'Mark entered in error' })[1]!);
    expect(await screen.findByRole('alert')).toHaveTextContent('Give the reason');
    await user.type(screen.getByLabelText(/Why is this entry in error/), 'wrong patient');
    await user.click(screen.getAllByRole('button', { name: 'Mark entered in error' })[1]!);
    expect(await screen.findByTestId('entry-done')).toHaveTextContent('Marked entered-in-error');
    expect(screen.getByText(/^Status:/)).toHaveTextContent('Status: Entered in error, version 3');
  });
});

describe('idle lock', () => {
  async function openNoteAndType(user: User, text: string) {
    await screen.findByText('14 of 14 patients shown.');
    await user.keyboard('DEV2013{Enter}');
    await user.click(await screen.findByRole('button', { name: 'Nursing note' }));
    await user.type(screen.getByLabelText(/^Note/), text);
  }

  it('locks with no patient data on screen, keeps the open form as a draft, and gives it back to the same user', { timeout: 30_000 }, async () => {
    const user = userEvent.setup();
    const backend = demo(1);
    render(App, { backend });
    await signIn(user, 'demo.nurse');
    await openNoteAndType(user, 'Half-written note');

    expect(await screen.findByRole('heading', { name: 'Screen locked' }, { timeout: 3000 })).toBeInTheDocument();
    expect(document.body).not.toHaveTextContent('MÜLLER');
    expect(document.body).not.toHaveTextContent('DEV2013');
    expect(document.body).not.toHaveTextContent('Half-written');
    expect(await backend.currentSession()).toBeNull();
    expect(screen.getByTestId('lock-note')).toHaveTextContent('kept as an encrypted draft');
    expect(screen.getByLabelText('Username')).toHaveValue('demo.nurse');
    expect(screen.getByLabelText('Password')).toHaveFocus();

    await user.keyboard('demo-password{Enter}');
    expect(await screen.findByTestId('draft-restored')).toBeInTheDocument();
    expect(screen.getByLabelText(/^Note/)).toHaveValue('Half-written note');
    expect(screen.getByTestId('patient-banner')).toHaveTextContent('MÜLLER-ØSTER, Łukasz');
    // The restored form stays open (nothing navigates away from it once the status and drafts have loaded).
    await new Promise((r) => setTimeout(r, 500));
    expect(screen.getByLabelText(/^Note/)).toHaveValue('Half-written note');
  });

  it('does not show the draft to another user who signs in through Switch user', async () => {
    const user = userEvent.setup();
    const backend = demo(300);
    render(App, { backend });
    await signIn(user, 'demo.nurse');
    await openNoteAndType(user, 'Private to demo.nurse');
    await user.click(screen.getByRole('button', { name: 'Switch user' }));
    expect(await screen.findByRole('heading', { name: 'Screen locked' })).toBeInTheDocument();
    expect(screen.getByLabelText('Username')).toHaveValue('');
    await user.type(screen.getByLabelText('Username'), 'demo.charge');
    await user.type(screen.getByLabelText('Password'), 'demo-password{Enter}');
    expect(await screen.findByTestId('signed-in-as')).toHaveTextContent('Demo Charge Nurse');
    expect(await screen.findByLabelText(/Scan the wristband/)).toBeInTheDocument();
    expect(screen.queryByTestId('draft-restored')).toBeNull();
    expect(document.body).not.toHaveTextContent('Private to demo.nurse');
    expect(backend.state.drafts).toHaveLength(1);
  });

  it('locks from the Lock button too, and asks before signing out of unsaved answers', async () => {
    const user = userEvent.setup();
    const backend = demo(300);
    render(App, { backend });
    await signIn(user, 'demo.nurse');
    await openNoteAndType(user, 'Unsaved');
    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(screen.getByRole('alertdialog')).toHaveTextContent('unsaved answers');
    await user.click(screen.getByRole('button', { name: 'Stay on the form' }));
    expect(screen.getByLabelText(/^Note/)).toHaveValue('Unsaved');
    await user.click(screen.getByRole('button', { name: 'Lock' }));
    expect(await screen.findByRole('heading', { name: 'Screen locked' })).toBeInTheDocument();
  });
});
