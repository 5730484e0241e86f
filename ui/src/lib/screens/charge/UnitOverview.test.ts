// The charge nurse's unit overview (issue 20 item 3) and the unit share in the banner (item 2), against the
// in-memory backend: doses and vitals from this workstation and from peers, each saying where it was charted; what
// other workstations left unsigned; "Sync now" reporting what came in and what was refused; the share unreachable
// said plainly; no share configured said plainly; the banner's freshness line with a stale peer; axe-core.
import { describe, expect, it, vi } from 'vitest';
import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import axe from 'axe-core';
import ChargeDesk from './ChargeDesk.svelte';
import UnitShareNotice from '../../UnitShareNotice.svelte';
import { MemoryBackend, type MemorySeed } from '../../backend/memory';
import { DEMO_SHARE, type UnitSeed } from '../../backend/memory/unit';
import type { PatientInfo, SessionInfo } from '../../backend';

vi.setConfig({ testTimeout: 30_000 });

const session: SessionInfo = { username: 'kcharge', displayName: 'Kim Charge', role: 'charge', mustChangePassword: false };
const patient = (mrn: string, name: string, location: string): PatientInfo => ({
  id: mrn,
  name,
  mrn,
  mrnSystem: 'http://hospital.example.org/mrn',
  temporary: false,
  birthDate: null,
  gender: null,
  location,
  allergies: [],
});

const SHARE = DEMO_SHARE;

function backendWith(unitShare: UnitSeed): MemoryBackend {
  const seed: MemorySeed = {
    unit: '5 East',
    users: { kcharge: { displayName: 'Kim Charge', password: 'pw', role: 'charge' } },
    signedIn: 'kcharge',
    patients: [patient('DEV2003', 'OKAFOR, Chidi', '5 East room 503'), patient('DEV2004', 'LINDQVIST, Maja', '5 East room 504')],
    unitShare,
  };
  return new MemoryBackend(seed);
}

async function overview(unitShare: UnitSeed) {
  const backend = backendWith(unitShare);
  render(ChargeDesk, { backend, session });
  const user = userEvent.setup();
  await user.click(await screen.findByRole('button', { name: 'Unit overview' }));
  await screen.findByRole('heading', { name: 'Unit overview' });
  return { backend, user };
}

async function axeClean() {
  const result = await axe.run(document.body, { rules: { 'color-contrast': { enabled: false } } });
  expect(result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

const text = (el: HTMLElement) => el.textContent?.replace(/\s+/g, ' ').trim() ?? '';

describe('the unit overview', () => {
  it("shows each patient's doses and vitals from every workstation, saying where, and what is unsigned elsewhere", async () => {
    const { user, backend } = await overview({
      share: SHARE,
      peerEntries: [
        { mrn: 'DEV2003', form: 'medication-administration', at: '2026-12-07T10:30:00Z', author: 'dnurse', medication: 'metoprolol tartrate 25 mg oral tablet', workstation: '4a0bcb32' },
        { mrn: 'DEV2003', form: 'vital-signs', at: '2026-12-07T10:35:00Z', author: 'dnurse', workstation: '4a0bcb32' },
      ],
      unsignedElsewhere: [{ label: '9c1d2e3f', author: 'jnurse', entries: 2 }],
      synced: { received: ['WS 4a0bcb32: 1 segment(s), 1 entries (1 versions), 0 events, 0 registrations, 3 audit rows'], problems: ['WS 77aa88bb: not enrolled in unit_peers (folder 77aa88bb…)'] },
    });
    expect(text(await screen.findByTestId('unit-share-state'))).toBe('WS 4a0bcb32: 10:40 · WS 9c1d2e3f: not heard from for 25 min');
    const rows = screen.getAllByTestId('unit-patient');
    expect(rows).toHaveLength(2);
    const okafor = text(rows[0]!);
    expect(okafor).toContain('OKAFOR, Chidi');
    expect(okafor).toContain('metoprolol tartrate 25 mg oral tablet');
    expect(okafor).toContain('(WS 4a0bcb32)');
    expect(within(rows[0]!).getAllByText(/WS 4a0bcb32/)).toHaveLength(2);
    expect(text(rows[1]!)).toContain('None charted');
    expect(text(screen.getByTestId('unsigned-elsewhere'))).toBe('WS 9c1d2e3f: jnurse, 2 unsigned entries');
    await axeClean();

    // Sync now, from the keyboard: what came in and what was refused, named.
    screen.getByRole('button', { name: 'Sync now' }).focus();
    await user.keyboard('{Enter}');
    const synced = text(await screen.findByTestId('unit-synced'));
    expect(synced).toContain('Came in: WS 4a0bcb32: 1 segment(s)');
    expect(synced).toContain('not enrolled in unit_peers');
    expect(backend.calls).toContain('unitSync');
  });

  it('says plainly when the share is unreachable, and when none is configured', async () => {
    await overview({ share: { ...SHARE, reachable: false, message: 'unit share unreachable: /mnt/unit/5-east', peers: [] } });
    expect(text(await screen.findByTestId('unit-share-state'))).toBe(
      'unit share unreachable: /mnt/unit/5-east. Charting goes on; this list shows what had arrived before.',
    );
    document.body.innerHTML = '';
    await overview({});
    expect(text(await screen.findByTestId('unit-share-state'))).toContain('No unit share is configured');
    expect(screen.queryByRole('button', { name: 'Sync now' })).toBeNull();
  });
});

describe('the unit share in the banner', () => {
  it('syncs at once and names each peer with its time, a stale one marked', async () => {
    const backend = backendWith({ share: SHARE });
    render(UnitShareNotice, { backend });
    const line = await screen.findByTestId('unit-share');
    expect(text(line)).toBe('Unit share: WS 4a0bcb32: 10:40 · WS 9c1d2e3f: not heard from for 25 min');
    expect(within(line).getByText('WS 9c1d2e3f: not heard from for 25 min').tagName).toBe('STRONG');
    expect(backend.calls).toContain('unitSync');
  });

  it('says the share is unreachable and that charting goes on; shows nothing without a share', async () => {
    render(UnitShareNotice, { backend: backendWith({ share: { ...SHARE, reachable: false, message: 'unit share unreachable: /mnt/unit/5-east' } }) });
    expect(text(await screen.findByTestId('unit-share'))).toBe('unit share unreachable: /mnt/unit/5-east: charting goes on here');
    document.body.innerHTML = '';
    const none = backendWith({});
    render(UnitShareNotice, { backend: none });
    await vi.waitFor(() => expect(none.calls).toContain('unitShare'));
    expect(screen.queryByTestId('unit-share')).toBeNull();
    expect(none.calls).not.toContain('unitSync');
  });
});
