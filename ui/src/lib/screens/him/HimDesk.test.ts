// The HIM desk against the in-memory backend seeded with a realistic worklist: filters and paging done by the
// backend, the bulk accept's confirmation naming its count, reasons required, duplicates side by side, the import's
// result per file, the export's hash, the counts always visible, and axe-core on each panel.
import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import HimDesk from './HimDesk.svelte';
import { MemoryBackend } from '../../backend/memory';
import { himSeed, TEMP_PATIENT } from '../../backend/memory/him-seed';
import { formInfo } from '../../backend/memory/state';
import { toFhirDateTime } from '../../forms/questionnaire';
import type { SessionInfo } from '../../backend';
import painScore from '../../../../../tests/data/forms/standard/pain-score.json';

const session: SessionInfo = { username: 'lhim', displayName: 'Lee Him', role: 'him', mustChangePassword: false };

function desk(count = 320, seed: Partial<ReturnType<typeof himSeed>> = {}) {
  const backend = new MemoryBackend({
    unit: '5 East',
    users: { lhim: { displayName: session.displayName, password: 'a-long-pass-12', role: 'him' } },
    signedInAs: 'lhim',
    him: { ...himSeed(count), ...seed },
  });
  render(HimDesk, { backend, session });
  return backend;
}

async function rows() {
  return screen.findAllByTestId('wl-row');
}

async function axeClean(container: HTMLElement = document.body) {
  // jsdom cannot compute colours; Chromium's run in the gallery checks contrast.
  const result = await axe.run(container, { rules: { 'color-contrast': { enabled: false } } });
  expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

/** Records every back-entry request the panel sends, as sent. */
function sentBackEntries(backend: MemoryBackend): unknown[] {
  const sent: unknown[] = [];
  const original = backend.himBackEnter.bind(backend);
  backend.himBackEnter = async (request) => {
    sent.push(structuredClone(request));
    return original(request);
  };
  return sent;
}

const summaryText = () => screen.getByTestId('him-summary').textContent ?? '';

describe('HIM worklist', { timeout: 30_000 }, () => {
  it('pages on the server and keeps the counts visible', async () => {
    const user = userEvent.setup();
    const backend = desk();
    expect(await rows()).toHaveLength(25);
    expect(screen.getByText('Entries 1–25 of 320')).toBeInTheDocument();
    await screen.findByText(/still open of 320/);
    await waitFor(() => expect(summaryText()).toMatch(/Pending match\s*6/));
    await user.click(screen.getByRole('button', { name: 'Next page' }));
    expect(await screen.findByText('Entries 26–50 of 320')).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText('Rows per page'), '100');
    expect(await screen.findByText('Entries 1–100 of 320')).toBeInTheDocument();
    expect(await rows()).toHaveLength(100);
    expect(backend.calls.filter((c) => c === 'himWorklist').length).toBeGreaterThanOrEqual(3);
  });

  it('filters by status, patient, form and workstation', async () => {
    const user = userEvent.setup();
    desk();
    await rows();
    await user.selectOptions(screen.getByLabelText('Status'), 'pending');
    await user.click(screen.getByRole('button', { name: 'Filter' }));
    expect(await screen.findByText('Entries 1–6 of 6')).toBeInTheDocument();
    for (const r of await rows()) expect(r).toHaveTextContent(TEMP_PATIENT.mrn);

    await user.selectOptions(screen.getByLabelText('Status'), '');
    await user.type(screen.getByLabelText('Patient MRN'), 'DEV2003');
    await user.type(screen.getByLabelText('Form'), 'vital-signs');
    await user.type(screen.getByLabelText('Workstation'), '5E-WS2');
    await user.keyboard('{Enter}');
    await screen.findByText(/^Entries 1–\d+ of \d+$|^No entries match\.$/);
    for (const r of screen.queryAllByTestId('wl-row')) {
      expect(r).toHaveTextContent('DEV2003');
      expect(r).toHaveTextContent('vital-signs');
      expect(r).toHaveTextContent('5E-WS2');
    }
    await user.click(screen.getByRole('button', { name: 'Clear' }));
    expect(await screen.findByText('Entries 1–25 of 320')).toBeInTheDocument();
  });

  it('asks before accepting all matched, naming the count', async () => {
    const user = userEvent.setup();
    const backend = desk();
    await rows();
    const expected = (await backend.himSummary()).acceptable;
    expect(expected).toBeGreaterThan(200);
    await user.click(await screen.findByRole('button', { name: `Accept all matched (${expected})…` }));
    const dialog = screen.getByRole('alertdialog');
    expect(dialog).toHaveTextContent(`Accept ${expected} matched entries?`);
    expect(backend.calls).not.toContain('himAcceptAllMatched');
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(backend.calls).not.toContain('himAcceptAllMatched');

    await user.click(screen.getByRole('button', { name: `Accept all matched (${expected})…` }));
    await user.click(within(screen.getByRole('alertdialog')).getByRole('button', { name: `Accept ${expected} entries` }));
    expect(await screen.findByText(`Accepted ${expected} matched entries.`)).toBeInTheDocument();
    expect((await backend.himSummary()).accepted).toBe(expected + 1);
  });

  it('refuses to reject without a reason, then shows who rejected and why', async () => {
    const user = userEvent.setup();
    const backend = desk();
    const [first] = await rows();
    await user.click(within(first!).getByRole('button'));
    await user.keyboard('r');
    const reason = screen.getByLabelText('Why is it rejected? (required)');
    expect(reason).toHaveFocus();
    await user.click(screen.getByRole('button', { name: 'Reject entry' }));
    expect(screen.getByText(/Write why this entry is rejected/)).toBeInTheDocument();
    expect(reason).toHaveAttribute('aria-invalid', 'true');
    expect(backend.calls).not.toContain('himReject');

    await user.type(reason, 'Charted on the wrong patient');
    await user.click(screen.getByRole('button', { name: 'Reject entry' }));
    expect(await screen.findByText(/Rejected e00001-5e: Charted on the wrong patient/)).toBeInTheDocument();
    expect(screen.getByTestId('wl-decision')).toHaveTextContent('by lhim');
    expect(screen.getByTestId('wl-decision')).toHaveTextContent('Why: Charted on the wrong patient');
    await waitFor(() => expect(summaryText()).toMatch(/Rejected\s*2/));
  });

  it('needs-correction also requires a reason', async () => {
    const user = userEvent.setup();
    const backend = desk();
    const [first] = await rows();
    await user.click(within(first!).getByRole('button'));
    await user.click(screen.getByRole('button', { name: 'Needs correction…' }));
    await user.click(screen.getByRole('button', { name: 'Flag for correction' }));
    expect(screen.getByText('Write what needs correcting.')).toBeInTheDocument();
    expect(backend.calls).not.toContain('himNeedsCorrection');
  });

  it('moves with the arrow keys and accepts with A', async () => {
    const user = userEvent.setup();
    const backend = desk();
    const all = await rows();
    await user.click(within(all[0]!).getByRole('button'));
    await user.keyboard('{ArrowDown}{ArrowDown}');
    expect(within(all[2]!).getByRole('button')).toHaveFocus();
    expect(within(all[2]!).getByRole('button')).toHaveAttribute('aria-pressed', 'true');
    await user.keyboard('{ArrowDown}');
    await user.keyboard('a');
    expect(await screen.findByText('Accepted e00004-5e.')).toBeInTheDocument();
    expect(backend.calls).toContain('himAccept');
  });

  it('matches a downtime registration and every entry of the patient follows', async () => {
    const user = userEvent.setup();
    desk();
    await rows();
    await user.selectOptions(screen.getByLabelText('Status'), 'pending');
    await user.click(screen.getByRole('button', { name: 'Filter' }));
    const [first] = await screen.findAllByTestId('wl-row');
    await user.click(within(first!).getByRole('button'));
    await user.keyboard('m');
    await user.type(screen.getByLabelText(/Real MRN from the EHR/), 'MRN-884120');
    await user.keyboard('{Enter}');
    expect(await screen.findByText(`Matched 6 entries of ${TEMP_PATIENT.name} to MRN MRN-884120.`)).toBeInTheDocument();
    await waitFor(() => expect(summaryText()).toMatch(/Pending match\s*0/));
  });

  it('shows a duplicate proposal side by side and confirms it as duplicate-of', async () => {
    const user = userEvent.setup();
    const backend = desk();
    await rows();
    const dupRow = (await rows()).find((r) => r.textContent?.includes('Possible duplicate'));
    expect(dupRow).toBeDefined();
    await user.click(within(dupRow!).getByRole('button'));
    expect(screen.getByRole('button', { name: 'Accept' })).toBeDisabled();
    await user.keyboard('d');
    const table = await screen.findByTestId('him-side-by-side');
    expect(table).toHaveTextContent('1 answer differs');
    expect(table).toHaveTextContent('time-given — differs');
    expect(table).toHaveTextContent('e00012-5e');
    expect(table).toHaveTextContent('e00013-5e');
    await user.click(screen.getByRole('button', { name: 'e00013-5e is a duplicate of this' }));
    expect(await screen.findByText('Recorded e00013-5e as a duplicate of e00012-5e (kept).')).toBeInTheDocument();
    expect(backend.calls).toContain('himMarkDuplicate');
    await waitFor(() => expect(summaryText()).toMatch(/Duplicate\s*1/));
  });

  it('dismissing a duplicate proposal requires a reason', async () => {
    const user = userEvent.setup();
    const backend = desk();
    const dupRow = (await rows()).find((r) => r.textContent?.includes('Possible duplicate'));
    await user.click(within(dupRow!).getByRole('button'));
    await user.click(screen.getByRole('button', { name: 'Compare duplicate…' }));
    await screen.findByTestId('him-side-by-side');
    await user.click(screen.getByRole('button', { name: 'Dismiss proposal' }));
    expect(screen.getByText('Write why these are two different events.')).toBeInTheDocument();
    expect(backend.calls).not.toContain('himDismissDuplicate');
    await user.type(screen.getByLabelText(/different events — why/), 'Second dose was a PRN top-up ordered at 10:15');
    await user.click(screen.getByRole('button', { name: 'Dismiss proposal' }));
    expect(await screen.findByText(/Dismissed the proposal/)).toBeInTheDocument();
  });

  it('has no axe violations on the worklist with a row and the side-by-side open', async () => {
    const user = userEvent.setup();
    desk(120);
    const dupRow = (await rows()).find((r) => r.textContent?.includes('Possible duplicate'));
    await user.click(within(dupRow!).getByRole('button'));
    await user.click(screen.getByRole('button', { name: 'Compare duplicate…' }));
    await screen.findByTestId('him-side-by-side');
    await axeClean();
  });
});

describe('HIM import', { timeout: 30_000 }, () => {
  it('lists the import folder and reports each file: added with conflicts and what it left unsigned, or refused with the reason', async () => {
    const user = userEvent.setup();
    desk();
    await user.click(screen.getByRole('button', { name: 'Import files' }));
    const boxes = await screen.findAllByRole('checkbox');
    expect(boxes).toHaveLength(4);
    expect(screen.getByText(/\/media\/usb\/handoff/)).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Import 4 files' }));
    const results = await screen.findByTestId('him-import-results');
    const items = within(results).getAllByRole('listitem');
    expect(items).toHaveLength(4);
    expect(items[0]).toHaveTextContent('5E-WS2-late.dtkh: added 1 entries');
    expect(items[0]).toHaveTextContent('1 version conflict (not merged; ask the unit): e00022-5e v2');
    expect(items[0]).toHaveTextContent('Workstation 5E-WS5 left 2 unsigned entries (rpatel 2): ask the unit to sign');
    expect(within(items[0]!).getByTestId('him-import-restored')).toHaveTextContent(
      '5E-WS5 is a PC restored from the backup of 5E-WS2: their entries in this file were matched with those already here.',
    );
    expect(items[1]).toHaveTextContent('5E-WS3-copy.dtkh: refused — the file was changed after the workstation signed it (tampered)');
    expect(items[2]).toHaveTextContent('refused — the file is truncated');
    expect(items[3]).toHaveTextContent('refused — file #1 of this workstation is older than file #2 already imported (replayed)');
    await screen.findByText(/still open of 321/);

    await user.type(screen.getByLabelText("Or a handoff file's full path"), '/media/usb/handoff/5E-WS2-late.dtkh');
    await user.click(screen.getByRole('button', { name: 'Import' }));
    expect(await screen.findByText(/already imported \(file #1 of 5E-WS5\); nothing added/)).toHaveTextContent(
      'Workstation 5E-WS5 left 2 unsigned entries',
    );
    await axeClean();
  });
});

describe('HIM import of a unit share copy', { timeout: 30_000 }, () => {
  it("imports a copy of the unit share: a dead PC's entries arrive and stay named until its handoff file comes; a refused segment is named", async () => {
    const user = userEvent.setup();
    desk();
    await user.click(screen.getByRole('button', { name: 'Import files' }));
    expect(await screen.findByText(/3 workstations, 23 segments/)).toHaveTextContent('(3 workstations, 23 segments)');
    expect(screen.queryByTestId('him-share-only')).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Import 5E-unit-share' }));
    const items = within(await screen.findByTestId('him-share-results')).getAllByRole('listitem');
    expect(items).toHaveLength(3);
    expect(items[0]).toHaveTextContent('WS 5EWS1: 14 segments, added 0 entries and 0 versions (3 already here)');
    expect(items[1]).toHaveTextContent('WS 5EWS6: 9 segments, added 2 entries and 2 versions (0 already here)');
    expect(items[2]).toHaveTextContent(
      'Refused or waiting — 5E-WS3/0000000004.dtku: changed after its workstation signed it (does not decrypt or verify).',
    );
    const only = await screen.findByTestId('him-share-only');
    expect(only).toHaveTextContent(
      'WS 5EWS6: 2 entries came only through the unit share (its newest segment, #9, was written at 2026-11-22T03:12:00Z)',
    );
    expect(only).toHaveTextContent('and the unsigned entry it said it left, may still be on that PC');
    expect(only).not.toHaveTextContent('5EWS1');
    await screen.findByText(/still open of 322/);

    await user.click(screen.getByRole('button', { name: 'Import 5E-unit-share' }));
    await waitFor(() => expect(within(screen.getByTestId('him-share-results')).getAllByRole('listitem')).toHaveLength(1));
    expect(screen.getByTestId('him-share-results')).toHaveTextContent('Refused or waiting — 5E-WS3/0000000004.dtku');
    await screen.findByText(/still open of 322/);
    await axeClean();
  });
});

describe('HIM export', { timeout: 30_000 }, () => {
  it('writes the batch and shows its path and SHA-256, posts, and retries only what failed', async () => {
    const user = userEvent.setup();
    const backend = desk(60);
    await rows();
    await user.click(screen.getByRole('button', { name: 'Export and report' }));
    await user.click(screen.getByRole('button', { name: 'Export accepted entries' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Type the file to write');
    await user.type(screen.getByLabelText('File to write'), '/media/usb/batch-1.json');
    await user.click(screen.getByRole('button', { name: 'Export accepted entries' }));
    const exported = await screen.findByTestId('him-exported');
    expect(exported).toHaveTextContent('/media/usb/batch-1.json');
    expect(screen.getByTestId('him-export-sha').textContent).toMatch(/^[0-9a-f]{64}$/);
    // The summary bar reloads its counts after the export resolves; wait for it rather than race it.
    await waitFor(() => expect(summaryText()).toMatch(/Exported\s*1/));

    // The server is chosen from the site's allowlist; there is no URL to type.
    expect(screen.queryByRole('textbox', { name: /URL/ })).toBeNull();
    const servers = screen.getByLabelText('FHIR server');
    expect([...servers.querySelectorAll('option')].map((o) => o.textContent)).toEqual(['EHR']);
    await user.click(screen.getByRole('button', { name: /Post batch batch-001/ }));
    const post = await screen.findByTestId('him-post');
    expect(post).toHaveTextContent('To EHR: 0 posted now, 1 failed');
    expect(screen.getByTestId('him-post-progress')).toHaveTextContent('Sent 1, accepted 0, refused 1, remaining 0');
    expect(post).toHaveTextContent('unit code not recognised');
    await user.click(screen.getByRole('button', { name: 'Retry the 1 failed' }));
    await waitFor(() => expect(screen.getByTestId('him-post')).toHaveTextContent('1 posted now, 0 failed, 0 posted earlier'));
    expect(backend.calls.filter((c) => c === 'himPostFhir')).toHaveLength(2);

    await user.type(screen.getByLabelText('CSV file to write'), '/media/usb/reconciliation.csv');
    await user.click(screen.getByRole('button', { name: 'Write report (CSV)' }));
    expect(await screen.findByText(/Report written to/)).toHaveTextContent(/SHA-256 [0-9a-f]{64}/);

    await user.click(screen.getByRole('button', { name: 'Save report as PDF' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('/media/usb/reconciliation.pdf');
    await user.type(screen.getByLabelText('PDF file to write'), '/media/usb/reconciliation.pdf');
    await user.click(screen.getByRole('button', { name: 'Save report as PDF' }));
    const pdf = await screen.findByTestId('him-report-pdf');
    expect(pdf).toHaveTextContent('PDF report saved to /media/usb/reconciliation.pdf');
    expect(pdf).toHaveTextContent(/SHA-256 [0-9a-f]{64}/);
    expect(backend.calls).toContain('himReportPdf');
    await axeClean();
  });
});

describe('HIM posting with a token', { timeout: 30_000 }, () => {
  it('chooses among the configured servers and sends the token typed for this post only', async () => {
    const user = userEvent.setup();
    const backend = desk(60, { fhirServers: { EHR: 'https://ehr.example.org/fhir', Test: 'http://127.0.0.1:8103' }, fhirToken: { server: 'Test', token: 's3cret-token' } });
    await rows();
    await user.click(screen.getByRole('button', { name: 'Export and report' }));
    await user.type(screen.getByLabelText('File to write'), '/media/usb/batch-1.json');
    await user.click(screen.getByRole('button', { name: 'Export accepted entries' }));
    await screen.findByTestId('him-exported');
    const servers = screen.getByLabelText('FHIR server');
    expect([...servers.querySelectorAll('option')].map((o) => o.textContent)).toEqual(['EHR', 'Test']);
    await user.selectOptions(servers, 'Test');
    await user.click(screen.getByRole('button', { name: /Post batch batch-001/ }));
    expect(await screen.findByRole('alert')).toHaveTextContent('the FHIR server "Test" answered HTTP 401: it asks for credentials');
    expect(screen.queryByTestId('him-post')).toBeNull();
    await user.type(screen.getByLabelText('Bearer token for this post or read-back (optional, not kept)'), 's3cret-token');
    await user.click(screen.getByRole('button', { name: /Post batch batch-001/ }));
    expect(await screen.findByTestId('him-post')).toHaveTextContent('To Test:');
    expect(document.body.textContent).not.toContain('s3cret-token');
    await axeClean();
  });
});

describe('HIM verify in the EHR', { timeout: 30_000 }, () => {
  /** A desk whose accepted entries are exported; `missing`: entries the server no longer holds at read-back. */
  async function exported(seed: Partial<ReturnType<typeof himSeed>> = {}) {
    const user = userEvent.setup();
    const backend = desk(60, { failOnFirstPost: [], ...seed });
    await rows();
    await user.click(screen.getByRole('button', { name: 'Export and report' }));
    await user.type(screen.getByLabelText('File to write'), '/media/usb/batch-1.json');
    await user.click(screen.getByRole('button', { name: 'Export accepted entries' }));
    await screen.findByTestId('him-exported');
    const post = async () => {
      await user.click(screen.getByRole('button', { name: /Post batch batch-001/ }));
      await screen.findByTestId('him-post');
    };
    const verify = async () => {
      await user.click(screen.getByRole('button', { name: 'Verify in the EHR' }));
    };
    return { user, backend, post, verify };
  }

  it('reads the posted batch back and shows it is all there, per type', async () => {
    const { backend, post, verify } = await exported();
    // Before a post there is no server to read it back from: the reason is shown.
    await verify();
    expect(await screen.findByRole('alert')).toHaveTextContent('has not been posted');
    await post();
    await verify();
    const result = await screen.findByTestId('him-readback');
    const n = (await backend.himSummary()).posted;
    expect(result).toHaveTextContent(`Verified in the EHR: ${n} of ${n} entries (${2 * n + 1} resources) on https://ehr.example.org/fhir`);
    expect(result).toHaveTextContent(`Found per type: AuditEvent 1, Provenance ${n}, QuestionnaireResponse ${n}.`);
    expect(within(result).queryByRole('table')).toBeNull();
    await axeClean();
  });

  it('names what the server no longer holds, by entry, type and identifier', async () => {
    const lost = himSeed(60).rows.filter((r) => r.state === 'accepted')[0]!.entryId;
    const { backend, post, verify } = await exported({ missingOnServer: [lost] });
    await post();
    await verify();
    const result = await screen.findByTestId('him-readback');
    const n = (await backend.himSummary()).posted;
    expect(result).toHaveTextContent(`Verified in the EHR: ${n - 1} of ${n} entries`);
    const table = within(result).getByRole('table', { name: 'Not on the server exactly once' });
    expect(table).toHaveTextContent(`${lost}QuestionnaireResponse urn:uuid:${lost} is missing`);
    expect(backend.calls.filter((c) => c === 'himVerifyFhir')).toHaveLength(1);
  });

  it('reads back from a server that asks for a token only with the token typed', async () => {
    const servers = { EHR: 'https://ehr.example.org/fhir', Test: 'http://127.0.0.1:8103' };
    const { user, post, verify } = await exported({ fhirServers: servers, fhirToken: { server: 'Test', token: 's3cret-token' } });
    await user.selectOptions(screen.getByLabelText('FHIR server'), 'Test');
    await user.type(screen.getByLabelText('Bearer token for this post or read-back (optional, not kept)'), 's3cret-token');
    await post();
    await user.clear(screen.getByLabelText('Bearer token for this post or read-back (optional, not kept)'));
    await verify();
    expect(await screen.findByRole('alert')).toHaveTextContent('the FHIR server "Test" answered HTTP 401: it asks for credentials');
    await user.type(screen.getByLabelText('Bearer token for this post or read-back (optional, not kept)'), 's3cret-token');
    await verify();
    expect(await screen.findByTestId('him-readback')).toHaveTextContent('on http://127.0.0.1:8103');
    expect(document.body.textContent).not.toContain('s3cret-token');
  });
});

describe('HIM entries the EHR refused', { timeout: 30_000 }, () => {
  it('counts a refused entry as open and records it as entered by hand in the EHR', async () => {
    const user = userEvent.setup();
    const backend = desk(60);
    await rows();
    await user.click(screen.getByRole('button', { name: 'Export and report' }));
    await user.type(screen.getByLabelText('File to write'), '/media/usb/batch-1.json');
    await user.click(screen.getByRole('button', { name: 'Export accepted entries' }));
    await screen.findByTestId('him-exported');
    await user.click(screen.getByRole('button', { name: /Post batch batch-001/ }));
    await screen.findByTestId('him-post');
    await waitFor(() => expect(summaryText()).toMatch(/Refused by the EHR\s*1/));
    const before = await backend.himSummary();
    expect(before.open).toBeGreaterThan(0);

    await user.click(screen.getByRole('button', { name: 'Worklist' }));
    await user.selectOptions(await screen.findByLabelText('Status'), 'refused');
    await user.click(screen.getByRole('button', { name: 'Filter' }));
    expect(await screen.findByText('Entries 1–1 of 1')).toBeInTheDocument();
    const [refused] = await rows();
    await user.click(within(refused!).getByRole('button'));
    await user.click(screen.getByRole('button', { name: 'Entered by hand…' }));
    await user.click(screen.getByRole('button', { name: 'Record the hand entry' }));
    expect(screen.getByText('Say who entered it in the EHR, when, and where.')).toBeInTheDocument();
    expect(backend.calls).not.toContain('himEnteredByHand');
    await user.type(screen.getByLabelText('Who entered it in the EHR'), 'Dana Okafor');
    await user.type(screen.getByLabelText(/^When/), '2026-11-22T09:30:00-05:00');
    await user.type(screen.getByLabelText('Where in the EHR'), 'EHR MAR, late entry');
    await user.click(screen.getByRole('button', { name: 'Record the hand entry' }));
    await waitFor(() => expect(document.body.textContent).toMatch(/recorded as entered by hand in the EHR by Dana Okafor/));
    await waitFor(() => expect(summaryText()).toMatch(/Entered by hand\s*1/));
    const after = await backend.himSummary();
    expect(after.open).toBe(before.open - 1);
    expect([after.refused, after.enteredByHand]).toEqual([0, 1]);
    await axeClean();
  });
});

describe('HIM paper back-entry and key', { timeout: 30_000 }, () => {
  it('offers an episode of the unit or a new paper-only episode for a page naming none', async () => {
    const user = userEvent.setup();
    const backend = desk(30);
    const sent = sentBackEntries(backend);
    await user.click(screen.getByRole('button', { name: 'Paper back-entry' }));
    await user.type(screen.getByLabelText('Scanned page (PNG, JPEG or PDF)'), '/media/scans/blank-001.png');
    await user.click(screen.getByRole('button', { name: 'Read the QR code' }));
    const placement = await screen.findByTestId('him-paper-placement');
    expect(placement).toHaveTextContent('The page names no episode');
    const select = within(placement).getByLabelText('Episode') as HTMLSelectElement;
    expect(Array.from(select.options, (o) => o.value)).toEqual(['4f6a1c9e-2b7d-4e0a-9c3f-8d1e5b2a7c60']);
    expect(within(placement).getByLabelText('A new paper-only episode for unit 5 East')).toBeInTheDocument();
    await axeClean();

    await user.click(within(placement).getByLabelText('A new paper-only episode for unit 5 East'));
    expect(within(placement).queryByLabelText('Episode')).toBeNull();
    await user.type(screen.getByLabelText('Nurse named on the paper (the author)'), 'Sam Whitfield, RN');
    await user.click(screen.getByRole('button', { name: 'The page matches' }));
    const confirmed = await screen.findByTestId('him-paper-confirmed');
    expect(confirmed).toHaveTextContent('a new paper-only episode for 5 East');
    await user.type(screen.getByLabelText(/^Heart rate/), '88');
    await user.click(screen.getByRole('button', { name: /^Now for Time taken/ }));
    await user.click(screen.getByRole('button', { name: 'Record the back-entry' }));
    const entered = await screen.findByTestId('him-paper-entered');
    expect(entered).toHaveTextContent('in the paper-only episode created for 5 East');
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ paperEpisodeUnit: '5 East', author: 'Sam Whitfield, RN' });
    expect(sent[0]).not.toHaveProperty('episode');

    // The next page of the same outage is offered the paper-only episode just created.
    const episodes = await backend.himEpisodes();
    expect(episodes.filter((e) => e.paperOnly)).toHaveLength(1);
  });

  it('asks the time written on a page of a form with no item for it, and sends it with the page', async () => {
    const user = userEvent.setup();
    const pain = formInfo(painScore);
    const scans = {
      ...himSeed(30).scans,
      '/media/scans/pain-001.png': {
        qr: `DTK1;form=${pain.canonical};mrn=DEV2004;unit=5 East`,
        form: pain.canonical,
        formTitle: pain.title,
        mrn: 'DEV2004',
        episode: null,
        entry: null,
        unit: '5 East',
        mar: false,
      },
    };
    const backend = desk(30, { scans });
    backend.state.forms.push(pain);
    const sent = sentBackEntries(backend);
    await user.click(screen.getByRole('button', { name: 'Paper back-entry' }));
    await user.type(screen.getByLabelText('Scanned page (PNG, JPEG or PDF)'), '/media/scans/pain-001.png');
    await user.click(screen.getByRole('button', { name: 'Read the QR code' }));
    const placement = await screen.findByTestId('him-paper-placement');
    await user.click(within(placement).getByLabelText('A new paper-only episode for unit 5 East'));
    await user.type(screen.getByLabelText('Nurse named on the paper (the author)'), 'Sam Whitfield, RN');
    await user.click(screen.getByRole('button', { name: 'The page matches' }));
    await screen.findByTestId('him-paper-confirmed');
    const time = screen.getByLabelText(/When did this happen\?/) as HTMLInputElement;
    // The time is the one on the paper: there is no "Now" to press.
    expect(screen.queryByRole('button', { name: /^Now for when it happened/ })).toBeNull();
    await user.type(screen.getByLabelText(/^Pain score \(0 = no pain/), '4');
    await user.click(screen.getByRole('button', { name: 'Record the back-entry' }));
    expect(await screen.findByTestId('him-paper-findings')).toHaveTextContent('When did this happen? is required');
    expect(time).toHaveAttribute('aria-invalid', 'true');
    expect(sent).toHaveLength(0);
    await axeClean();

    await fireEvent.input(time, { target: { value: '2026-11-21T09:40' } });
    await user.click(screen.getByRole('button', { name: 'Record the back-entry' }));
    await screen.findByTestId('him-paper-entered');
    expect(sent).toHaveLength(1);
    expect((sent[0] as { clinicalTime?: string }).clinicalTime).toBe(toFhirDateTime('2026-11-21T09:40'));
  });

  it('types a MAR page dose by dose and records one entry per dose, each row saying its page', async () => {
    const user = userEvent.setup();
    const backend = desk(30);
    const before = (await backend.himSummary()).total;
    await user.click(screen.getByRole('button', { name: 'Paper back-entry' }));
    await user.type(screen.getByLabelText('Scanned page (PNG, JPEG or PDF)'), '/media/scans/mar-001.png');
    await user.click(screen.getByRole('button', { name: 'Read the QR code' }));
    const placement = await screen.findByTestId('him-paper-placement');
    // An episode of the unit is the default; the MAR page needs no author (each dose has its initials).
    expect(screen.queryByLabelText('Nurse named on the paper (the author)')).toBeNull();
    expect((within(placement).getByLabelText('Episode') as HTMLSelectElement).value).toBe(
      '4f6a1c9e-2b7d-4e0a-9c3f-8d1e5b2a7c60',
    );
    await user.click(screen.getByRole('button', { name: 'The page matches' }));
    expect(await screen.findByRole('heading', { name: 'Type the doses initialled on the MAR page' })).toHaveFocus();

    const fill = async (n: number, values: [string, string, string, string, string]) => {
      const labels = ['medication', 'dose', 'route', 'time given', 'initials'];
      for (const [i, label] of labels.entries()) await user.type(screen.getByLabelText(`Dose ${n} ${label}`), values[i]!);
    };
    await fill(1, ['acetaminophen', '650 mg', 'Oral', '2026-11-21T08:00:00-05:00', 'JN']);
    await user.click(screen.getByRole('button', { name: 'Add a dose' }));
    await user.click(screen.getByRole('button', { name: 'Record 2 doses' }));
    expect(await screen.findByTestId('him-paper-findings')).toHaveTextContent(
      'Dose 2: type the medication, dose, route, time, initials written on the page.',
    );
    await fill(2, ['heparin', '5000 units', 'Subcutaneous', '2026-11-21T09:00', 'KC']);
    await user.click(screen.getByRole('button', { name: 'Add a dose' }));
    await fill(3, ['ondansetron', '4 mg', 'intravenous', '2026-11-21T14:00:00-05:00', 'JN']);
    await axeClean();
    await user.click(screen.getByRole('button', { name: 'Record 3 doses' }));
    const entered = await screen.findByTestId('him-paper-entered');
    expect(entered).toHaveTextContent('3 doses recorded');
    expect((await backend.himSummary()).total).toBe(before + 3);

    // On the worklist: one row per dose, each saying which page it came from.
    await user.click(screen.getByRole('button', { name: 'Worklist' }));
    await user.type(await screen.findByLabelText('Patient MRN'), 'DEV2005');
    await user.keyboard('{Enter}');
    await waitFor(async () => expect(await screen.findAllByTestId('wl-paper-page')).toHaveLength(3));
    for (const cell of screen.getAllByTestId('wl-paper-page')) {
      expect(cell).toHaveTextContent(/^from paper, page downtime-mar/);
    }
  });

  it('decodes a scan, fills the form and submits the answers with the author; findings come back by field', async () => {
    const user = userEvent.setup();
    const backend = desk(30);
    const sent = sentBackEntries(backend);
    await user.click(screen.getByRole('button', { name: 'Paper back-entry' }));
    await user.type(screen.getByLabelText('Scanned page (PNG, JPEG or PDF)'), '/media/scans/unknown.png');
    await user.click(screen.getByRole('button', { name: 'Read the QR code' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('not a readable PNG, JPEG or PDF');
    await user.clear(screen.getByLabelText('Scanned page (PNG, JPEG or PDF)'));
    await user.type(screen.getByLabelText('Scanned page (PNG, JPEG or PDF)'), '/media/scans/page-001.png');
    await user.click(screen.getByRole('button', { name: 'Read the QR code' }));
    const scan = await screen.findByTestId('him-scan');
    expect(scan).toHaveTextContent('Vital signs');
    expect(scan).toHaveTextContent('DEV2003');
    expect(screen.getByRole('heading', { name: 'Check the page against this' })).toHaveFocus();

    // The author is required before the form opens.
    await user.click(screen.getByRole('button', { name: 'The page matches' }));
    expect(screen.getByText(/Type the name of the nurse written on the paper/)).toBeInTheDocument();
    expect(screen.queryByRole('heading', { name: /Type the page/ })).toBeNull();
    await user.type(screen.getByLabelText('Nurse named on the paper (the author)'), 'Sam Whitfield, RN');
    await user.click(screen.getByRole('button', { name: 'The page matches' }));

    // The nurse's form renderer, for this patient; no command line anywhere.
    expect(await screen.findByRole('heading', { name: 'Type the page: Vital signs' })).toHaveFocus();
    const confirmed = screen.getByTestId('him-paper-confirmed');
    expect(confirmed).toHaveTextContent('Carlos Ibáñez');
    expect(confirmed).toHaveTextContent('Sam Whitfield, RN');
    expect(document.body.textContent).not.toMatch(/command line|dtk reconcile/);
    await axeClean();

    // The time is left out: the screen finds it before asking the core (in the core's words), beside that field and
    // in the summary.
    await user.type(screen.getByLabelText(/^Heart rate/), '88');
    await user.click(screen.getByRole('button', { name: 'Record the back-entry' }));
    const findings = await screen.findByTestId('him-paper-findings');
    expect(findings).toHaveTextContent('Time taken: Required.');
    const time = screen.getByLabelText(/^Time taken/);
    expect(time).toHaveAttribute('aria-invalid', 'true');
    expect(document.getElementById(time.getAttribute('aria-describedby') ?? '')).toHaveTextContent(
      'Required.',
    );
    expect(screen.queryByTestId('him-paper-entered')).toBeNull();
    await axeClean();

    await user.click(screen.getByRole('button', { name: /^Now for Time taken/ }));
    await user.click(screen.getByRole('button', { name: 'Record the back-entry' }));
    const entered = await screen.findByTestId('him-paper-entered');
    expect(entered).toHaveTextContent(/Back-entry recorded on this station at/);
    expect(entered).toHaveTextContent('authored by Sam Whitfield, RN');
    expect(entered).toHaveFocus();
    expect(screen.queryByTestId('him-paper-findings')).toBeNull();

    // The first try never left the screen: only the corrected page was sent.
    expect(sent).toHaveLength(1);
    const last = sent[0] as { qr: string; author: string; response: Record<string, unknown> };
    expect(last.author).toBe('Sam Whitfield, RN');
    expect(last.qr).toMatch(/^DTK1;form=.*vital-signs/);
    expect(last.response.questionnaire).toBe('http://downtimekit.example.org/fhir/Questionnaire/vital-signs|1.0.0');
    expect(last.response.subject).toMatchObject({ identifier: { value: 'DEV2003' } });
    const items = last.response.item as { linkId: string; answer?: Record<string, unknown>[] }[];
    expect(items.find((i) => i.linkId === 'heart-rate')?.answer?.[0]).toMatchObject({ valueInteger: 88 });
    expect(items.find((i) => i.linkId === 'measured-at')?.answer?.[0]?.valueDateTime).toEqual(expect.any(String));
    await axeClean();
  });

  it('shows the core’s findings by field when it refuses the answers', async () => {
    const user = userEvent.setup();
    const backend = desk(10);
    backend.himBackEnter = async () => ({
      entered: null,
      findings: [
        { linkId: 'heart-rate', severity: 'error', message: 'the value is above the maximum of 300' },
        { linkId: null, severity: 'error', message: 'the time is in the future' },
      ],
    });
    await user.click(screen.getByRole('button', { name: 'Paper back-entry' }));
    await user.type(screen.getByLabelText('Scanned page (PNG, JPEG or PDF)'), '/media/scans/page-001.png');
    await user.click(screen.getByRole('button', { name: 'Read the QR code' }));
    await user.type(await screen.findByLabelText('Nurse named on the paper (the author)'), 'Dana Rivera, RN');
    await user.click(screen.getByRole('button', { name: 'The page matches' }));
    await user.type(await screen.findByLabelText(/^Heart rate/), '88');
    await user.click(screen.getByRole('button', { name: /^Now for Time taken/ }));
    await user.click(screen.getByRole('button', { name: 'Record the back-entry' }));
    const findings = await screen.findByTestId('him-paper-findings');
    expect(findings).toHaveTextContent('Heart rate: The value is above the maximum of 300.');
    expect(findings).toHaveTextContent('The time is in the future.');
    expect(screen.getByLabelText(/^Heart rate/)).toHaveAttribute('aria-invalid', 'true');
    expect(screen.queryByTestId('him-paper-entered')).toBeNull();
    // The answers stay for correcting.
    expect(screen.getByLabelText(/^Heart rate/)).toHaveValue('88');
  });

  it('creates the station key once and shows the site.json line', async () => {
    const user = userEvent.setup();
    desk(10);
    await user.click(screen.getByRole('button', { name: 'Station key' }));
    await user.click(screen.getByRole('button', { name: 'Create or show the station key' }));
    expect(await screen.findByText('Created the station key.')).toBeInTheDocument();
    expect(screen.getByTestId('him-fingerprint')).toHaveTextContent('3F9C 2A71 D04E 8B65');
    expect((screen.getByLabelText('Line for site.json') as HTMLInputElement).value).toMatch(/^"him_public_key": "[0-9a-f]{64}"$/);
    await user.click(screen.getByRole('button', { name: 'Show the key again' }));
    expect(await screen.findByText(/already has its key/)).toBeInTheDocument();
    await axeClean();
  });
});
