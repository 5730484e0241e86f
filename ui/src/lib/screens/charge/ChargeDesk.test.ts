// The charge nurse's desk against the in-memory backend: declaring (with validation), severity change, checklist
// tick and untick, overdue steps, the status-update draft, the print centre with progress and without CUPS, and the
// emergency account whose password is shown once.
import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import ChargeDesk from './ChargeDesk.svelte';
import OverdueNotice from './OverdueNotice.svelte';
import { MemoryBackend } from '../../backend/memory';
import type { ChargeSeed } from '../../backend/memory/charge';
import type { SessionInfo } from '../../backend';

// Typing whole forms takes seconds on a loaded 2-core machine; the default 5 s is for unit logic, not for this.
vi.setConfig({ testTimeout: 30_000 });

const session: SessionInfo = { username: 'kcharge', displayName: 'Kim Charge', role: 'charge', mustChangePassword: false };

function desk(charge: ChargeSeed = {}) {
  const backend = new MemoryBackend({
    unit: '5 East',
    users: { kcharge: { displayName: 'Kim Charge', password: 'pw', role: 'charge' } },
    signedIn: 'kcharge',
    charge,
  });
  render(ChargeDesk, { backend, session });
  return { backend, user: userEvent.setup() };
}

const openEpisode = {
  drill: false,
  severity: 'P2' as const,
  affected: ['EHR', 'lab results'],
  impact: 'Results by phone only',
  reason: null,
  nextUpdateMinutes: 30,
  beganMinutesAgo: null,
};

describe('declaring an episode', () => {
  it('refuses a declaration without severity, affected systems or impact, then declares', async () => {
    const { backend, user } = desk();
    await user.click(await screen.findByRole('button', { name: 'Declare downtime' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Choose a severity');
    expect(alert).toHaveTextContent('affected system');
    expect(alert).toHaveTextContent('clinical impact');
    expect(await backend.episodeStatus()).toBeNull();

    await user.click(screen.getByRole('radio', { name: /P1/ }));
    await user.click(screen.getByRole('checkbox', { name: 'pharmacy' }));
    await user.type(screen.getByLabelText('Others (separate with commas)'), 'infusion pumps');
    await user.type(screen.getByLabelText('Clinical impact, in plain words'), 'No medication history');
    await user.selectOptions(screen.getByLabelText('First status update due in'), '60');
    await user.click(screen.getByRole('button', { name: 'Declare downtime' }));

    expect(await screen.findByTestId('episode-severity')).toHaveTextContent('Severity P1');
    const status = await backend.episodeStatus();
    expect(status?.episode.affected).toEqual(['pharmacy', 'infusion pumps']);
    expect(status?.drill).toBe(false);
  });

  it('records when the outage began and shows the response targets, a late declaration as missed', async () => {
    const { backend, user } = desk();
    await user.click(await screen.findByRole('radio', { name: /P2/ }));
    await user.click(screen.getByRole('checkbox', { name: 'EHR' }));
    await user.type(screen.getByLabelText('Clinical impact, in plain words'), 'Results by phone');
    await user.type(screen.getByLabelText(/The outage began how many minutes ago/), 'soon');
    await user.click(screen.getByRole('button', { name: 'Declare downtime' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('give the minutes ago as a whole number');
    await user.clear(screen.getByLabelText(/The outage began how many minutes ago/));
    await user.type(screen.getByLabelText(/The outage began how many minutes ago/), '45');
    await user.click(screen.getByRole('button', { name: 'Declare downtime' }));

    const targets = await screen.findByTestId('response-targets');
    expect(within(targets).getByRole('heading')).toHaveTextContent('Response targets (1 missed)');
    expect(screen.getByTestId('target-declare')).toHaveTextContent(/Declared \(P2\)\s*30 min\s*45 min.*MISSED/);
    expect(screen.getByTestId('target-first_entry')).toHaveTextContent('open');
    expect((await backend.episodeStatus())?.missedTargets).toBe(1);
  });

  it('starts a drill that is marked DRILL', async () => {
    const { user } = desk();
    await user.click(await screen.findByRole('checkbox', { name: /This is a drill/ }));
    await user.click(screen.getByRole('radio', { name: /P3/ }));
    await user.click(screen.getByRole('button', { name: 'Start the drill' }));
    expect(await screen.findByText(/DRILL — practice episode/)).toBeInTheDocument();
  });

  it('changes severity and shows the new level', async () => {
    const { backend, user } = desk({ episode: openEpisode });
    expect(await screen.findByTestId('episode-severity')).toHaveTextContent('Severity P2');
    await user.click(await screen.findByRole('radio', { name: /P1/ }));
    await user.type(screen.getByLabelText('Why (optional)'), 'pharmacy down too');
    await user.click(screen.getByRole('button', { name: 'Change severity' }));
    expect(await screen.findByText(/Severity changed to P1/)).toBeInTheDocument();
    expect(screen.getByTestId('episode-severity')).toHaveTextContent('Severity P1');
    expect((await backend.episodeStatus())?.severity).toBe('P1');
  });

  it('ends the episode only after confirming', async () => {
    const { backend, user } = desk({ episode: openEpisode });
    const end = await screen.findByRole('button', { name: 'End the downtime episode' });
    expect(end).toBeDisabled();
    await user.click(screen.getByRole('checkbox', { name: /EHR is back/ }));
    await user.click(end);
    expect(await screen.findByText(/Downtime episode ended at/)).toBeInTheDocument();
    expect(await backend.episodeStatus()).toBeNull();
  });
});

describe('the checklist', () => {
  it('ticks a step with who and when, and takes it back only with a reason', async () => {
    const { user } = desk({ episode: openEpisode });
    await user.click(await screen.findByRole('button', { name: 'Checklist' }));
    const box = await screen.findByRole('checkbox', { name: /Confirm the scope/ });
    await user.click(box);
    expect(await screen.findByText(/Done by kcharge at/)).toBeInTheDocument();

    await user.click(screen.getByRole('checkbox', { name: /Confirm the scope/ }));
    expect(screen.getByRole('checkbox', { name: /Confirm the scope/ })).toBeChecked();
    await user.click(screen.getByRole('button', { name: 'Take back the tick' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Say why');
    await user.type(screen.getByLabelText('Why take this tick back?'), 'ticked by mistake');
    await user.click(screen.getByRole('button', { name: 'Take back the tick' }));
    expect(await screen.findByRole('checkbox', { name: /Confirm the scope/ })).not.toBeChecked();
    expect(screen.queryByText(/Done by kcharge/)).toBeNull();
  });

  it('shows overdue steps and an overdue status update', async () => {
    const { user } = desk({ episode: { ...openEpisode, minutesAgo: 45 } });
    await user.click(await screen.findByRole('button', { name: 'Checklist' }));
    const scope = await screen.findByTestId('step-confirm-scope');
    expect(scope).toHaveTextContent('OVERDUE — was due by');
    expect(screen.getByTestId('update-overdue')).toHaveTextContent('the status update was due at');
    // Confirm scope and print census/MAR and switch to downtime forms are late (15 and 30 minutes), plus the update.
    expect(screen.getAllByText(/OVERDUE — was due by/)).toHaveLength(3);
  });
});

describe('checklists that fit the outage', () => {
  it('shows a step that is not for this outage as such, never overdue, and still lets it be ticked', async () => {
    const { user } = desk({ episode: { ...openEpisode, affected: ['EHR'], minutesAgo: 90 } });
    await user.click(await screen.findByRole('button', { name: 'Checklist' }));
    const lab = await screen.findByTestId('step-lab-phone-all-results');
    expect(lab).toHaveTextContent('Not for this outage (for when lab results is affected): no need to tick it.');
    expect(lab).not.toHaveTextContent('OVERDUE');
    expect(screen.getByTestId('step-print-census-mar')).toHaveTextContent('OVERDUE');
    await user.click(within(lab).getByRole('checkbox'));
    expect(await within(screen.getByTestId('step-lab-phone-all-results')).findByText(/Done by kcharge/)).toBeInTheDocument();
  });
});

describe('the overdue notice for the banner', () => {
  it('is empty when nothing is overdue and names what is', async () => {
    const backend = new MemoryBackend({
      unit: '5 East',
      users: { jnurse: { displayName: 'Jo Nurse', password: 'pw', role: 'nurse' } },
      signedIn: 'jnurse',
      charge: { episode: { ...openEpisode, minutesAgo: 20 } },
    });
    render(OverdueNotice, { backend });
    expect(await screen.findByTestId('overdue-notice')).toHaveTextContent('1 overdue on the downtime checklist');
    expect(screen.getByTestId('overdue-notice')).not.toHaveTextContent('status update');
  });
});

describe('status updates', () => {
  it('drafts an update with severity, affected workflows and next update time, keeps it and lists it', async () => {
    const { backend, user } = desk({ episode: openEpisode });
    await user.click(await screen.findByRole('button', { name: 'Status updates' }));
    await user.click(await screen.findByRole('button', { name: 'Draft an update from the episode' }));
    const text = screen.getByLabelText('Update text (edit before sending)') as HTMLTextAreaElement;
    const due = (await backend.episodeStatus())?.nextUpdateDue?.slice(11, 16);
    expect(text.value).toContain('Severity: P2');
    expect(text.value).toContain('Affected systems and workflows: EHR, lab results');
    expect(text.value).toContain(`Next update: ${due} UTC`);

    await user.type(text, 'Runner to pharmacy every 30 minutes.');
    await user.click(screen.getByRole('button', { name: 'Copy the text' }));
    expect(await screen.findByText(/Copied|press Ctrl\+C/)).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Keep with the episode' }));
    expect(await screen.findByText(/Update kept with the episode/)).toBeInTheDocument();
    const kept = await backend.episodeStatus();
    expect(kept?.updates).toHaveLength(1);
    expect(kept?.updates[0]?.text).toContain('Runner to pharmacy');
    expect(screen.getByText(/Runner to pharmacy every 30 minutes/, { selector: 'pre' })).toBeInTheDocument();
    expect(within(screen.getByTestId('timeline')).getByText(/Status update sent by kcharge/)).toBeInTheDocument();

    // Printing for leaders prints what was kept: the print centre opens on the status update.
    await user.click(screen.getByRole('button', { name: 'Print the latest kept update' }));
    expect(await screen.findByRole('radio', { name: /Status update for leaders/ })).toBeChecked();
    await user.click(screen.getByRole('button', { name: 'Save as PDF' }));
    expect(await screen.findByTestId('print-notice')).toHaveTextContent(/Saved the PDF \(1 page\)/);
    expect(backend.charge.printed.at(-1)?.job).toEqual({ kind: 'statusUpdate' });
  });

  it('offers printing only once an update is kept', async () => {
    const { user } = desk({ episode: openEpisode });
    await user.click(await screen.findByRole('button', { name: 'Status updates' }));
    expect(await screen.findByRole('button', { name: 'Print the latest kept update' })).toBeDisabled();
  });
});

describe('the print centre', () => {
  it('prints blank forms for the unit with progress, saves, opens and sends to the printer', async () => {
    const { backend, user } = desk({ episode: { ...openEpisode, drill: true } });
    await user.click(await screen.findByRole('button', { name: 'Print centre' }));
    expect(await screen.findByText('DRILL: every printed page is marked DRILL.')).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText('Form'), 'Vital signs');
    await user.click(screen.getByRole('button', { name: 'Save and print' }));
    expect(await screen.findByTestId('print-notice')).toHaveTextContent(/Sent to ward-5e/);
    expect(backend.charge.printed[0]).toEqual({
      job: { kind: 'blankUnit', form: 'http://downtimekit.example.org/fhir/Questionnaire/vital-signs|1.0.0' },
      folder: '/home/charge/Documents/Downtime Kit',
    });
    expect(backend.charge.sentToPrinter).toHaveLength(1);
    await user.click(screen.getByRole('button', { name: /^Open / }));
    expect(backend.charge.opened).toEqual(backend.charge.sentToPrinter);
  });

  it('shows progress while a batch prints', async () => {
    const { backend, user } = desk();
    let release: () => void = () => {};
    const original = backend.printDocument.bind(backend);
    backend.printDocument = async (request, onProgress) => {
      onProgress({ done: 2, total: 14 });
      await new Promise<void>((resolve) => (release = resolve));
      return original(request, () => {});
    };
    await user.click(await screen.findByRole('button', { name: 'Print centre' }));
    await user.click(await screen.findByRole('radio', { name: 'Downtime MAR for the unit' }));
    await user.click(screen.getByRole('button', { name: 'Save as PDF' }));
    expect(await screen.findByText('Printing 2 of 14')).toBeInTheDocument();
    expect(screen.getByRole('progressbar')).toHaveAttribute('value', '2');
    release();
    expect(await screen.findByTestId('print-notice')).toHaveTextContent('Saved the PDF');
  });

  it('prints the escalation contact sheet, chosen with the keyboard', async () => {
    const { backend, user } = desk();
    await user.click(await screen.findByRole('button', { name: 'Print centre' }));
    const choice = await screen.findByRole('radio', { name: /Escalation contact sheet/ });
    choice.focus();
    await user.keyboard(' ');
    expect(choice).toBeChecked();
    await user.click(screen.getByRole('button', { name: 'Save as PDF' }));
    expect(await screen.findByTestId('print-notice')).toHaveTextContent(/Saved the PDF \(1 page\)/);
    expect(backend.charge.printed.at(-1)?.job).toEqual({ kind: 'contactSheet' });
  });

  it('says plainly when there is no CUPS and offers save and open only', async () => {
    const { user } = desk({ cups: false });
    await user.click(await screen.findByRole('button', { name: 'Print centre' }));
    expect(await screen.findByTestId('no-printer')).toHaveTextContent('no printing system (CUPS is not installed)');
    expect(screen.queryByRole('button', { name: 'Save and print' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Save and open' })).toBeEnabled();
  });

  it('prints the chosen filled entries of one patient', async () => {
    const entry = (id: string) => ({
      id,
      formTitle: 'Vital signs',
      status: 'signed',
      version: 1,
      clinicalTime: '2026-11-21T10:00:00Z',
      recordedAt: '2026-11-21T10:05:00Z',
      author: 'jnurse',
    });
    const { backend, user } = desk({ entries: { DEV2002: [entry('e1'), entry('e2')] } });
    await user.click(await screen.findByRole('button', { name: 'Print centre' }));
    await user.click(await screen.findByRole('radio', { name: /Filled entries of one patient/ }));
    await user.selectOptions(screen.getByLabelText('Patient'), 'DEV2002');
    const boxes = await screen.findAllByRole('checkbox', { name: /Vital signs · 10:00 UTC/ });
    await user.click(boxes[1] as HTMLElement);
    await user.click(screen.getByRole('button', { name: 'Save as PDF' }));
    expect(await screen.findByTestId('print-notice')).toHaveTextContent('Saved the PDF');
    expect(backend.charge.printed[0]?.job).toEqual({ kind: 'entries', ids: ['e2'] });
  });
});

describe('emergency user', () => {
  it('shows the one-time password once', async () => {
    const { user } = desk();
    await user.click(await screen.findByRole('button', { name: 'Emergency user' }));
    await user.click(screen.getByRole('button', { name: 'Create the emergency account' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Give a username, the full name, a reason.');
    await user.type(screen.getByLabelText('Username'), 'agency1');
    await user.type(screen.getByLabelText('Full name'), 'Agency Nurse');
    await user.type(screen.getByLabelText('Why an emergency account'), 'float pool');
    await user.click(screen.getByRole('button', { name: 'Create the emergency account' }));
    expect(await screen.findByTestId('emergency-password')).toHaveTextContent('k7mq2vxp9rtw');
    await user.click(screen.getByRole('button', { name: /Done — I have handed it over/ }));
    expect(screen.queryByTestId('emergency-password')).toBeNull();
  });
});

describe('the drill report', () => {
  it('opens the print centre on the drill report after a drill ends, and saves it', async () => {
    const { backend, user } = desk({ episode: { ...openEpisode, drill: true } });
    await user.click(await screen.findByRole('checkbox', { name: /EHR is back/ }));
    await user.click(screen.getByRole('button', { name: 'End the drill' }));
    expect(await screen.findByText(/Drill ended at/)).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Drill report' }));
    expect(await screen.findByRole('radio', { name: /Drill report/ })).toBeChecked();
    await user.click(screen.getByRole('button', { name: 'Save and open' }));
    expect(await screen.findByTestId('print-notice')).toHaveTextContent(/Opened .*drill-report/);
    expect(backend.charge.printed[0]?.job).toEqual({ kind: 'drillReport' });
  });

  it('has no drill report button for a real episode', async () => {
    desk({ episode: openEpisode });
    await screen.findByTestId('episode-current');
    expect(screen.queryByRole('button', { name: 'Drill report' })).toBeNull();
  });
});

describe('the handoff to HIM', () => {
  const unsigned = [
    { id: 'e1', author: 'jnurse', formTitle: 'Nursing note', createdAt: '2026-11-21T08:10:00Z', ageMinutes: 185 },
    { id: 'e2', author: 'jnurse', formTitle: 'Vital signs', createdAt: '2026-11-21T09:00:00Z', ageMinutes: 135 },
    { id: 'e3', author: 'kcharge', formTitle: 'Medication administration', createdAt: '2026-11-21T11:02:00Z', ageMinutes: 3 },
  ];

  it('lists the unsigned entries by author, form and age, and asks before a file leaves them behind', async () => {
    const { backend, user } = desk({ episode: openEpisode, unsigned });
    await user.click(await screen.findByRole('button', { name: 'Handoff' }));
    expect(await screen.findByTestId('unsigned-summary')).toHaveTextContent('3 entries are unsigned (jnurse 2, kcharge 1)');
    const rows = within(screen.getByTestId('unsigned-list')).getAllByRole('row').slice(1);
    expect(rows.map((r) => r.textContent)).toEqual([
      'jnurseNursing note08:10 UTC3 h 05 min',
      'jnurseVital signs09:00 UTC2 h 15 min',
      'kchargeMedication administration11:02 UTC3 min',
    ]);

    await user.click(screen.getByRole('button', { name: 'Write the handoff file' }));
    const dialog = await screen.findByRole('alertdialog');
    expect(dialog).toHaveTextContent('3 unsigned entries stay behind');
    expect(dialog).toHaveTextContent('jnurse 2, kcharge 1');
    expect(dialog).toHaveTextContent('kept in the audit log');
    await user.click(within(dialog).getByRole('button', { name: /Cancel/ }));
    expect(backend.charge.handoffs).toEqual([]);

    await user.click(screen.getByRole('button', { name: 'Write the handoff file' }));
    await user.click(within(await screen.findByRole('alertdialog')).getByRole('button', { name: 'Write the file without them' }));
    expect(await screen.findByTestId('handoff-written')).toHaveTextContent('Left on this workstation, unsigned: jnurse 2, kcharge 1.');
    expect(backend.charge.handoffs).toEqual([{ folder: '/home/nurse/Documents/Downtime Kit', includeUnsigned: true }]);
  });

  it('writes the file without asking once every entry is signed', async () => {
    const { backend, user } = desk({ episode: openEpisode });
    await user.click(await screen.findByRole('button', { name: 'Handoff' }));
    expect(await screen.findByTestId('unsigned-none')).toHaveTextContent('Every entry of the episode is signed.');
    await user.click(screen.getByRole('button', { name: 'Write the handoff file' }));
    expect(await screen.findByTestId('handoff-written')).toHaveTextContent('Handoff file #1 written');
    expect(screen.queryByRole('alertdialog')).toBeNull();
    expect(backend.charge.handoffs).toEqual([{ folder: '/home/nurse/Documents/Downtime Kit', includeUnsigned: false }]);
  });
});
