// The unit share in the in-memory double (issue 20): a seeded share (its peers and how fresh each is, or
// unreachable, or none configured), entries seeded as received from peers, and the unit overview computed as the
// core computes it (src/api/unit_overview.rs): per patient of the census, the newest vitals and every dose on any
// workstation, newest first, and the drafts here. The double does not write or read segments; the core does
// (src/unit/), and src-tauri/tests/unit.rs drives the real commands with two workstations and one shared folder.
import { BackendError } from '../index';
import type { UnitCharted, UnitOverview, UnitShare, UnitSynced, UnitUnsigned } from '../unit';
import type { MemoryState } from './state';

/** An entry a peer workstation charted, as the share brought it. */
export interface PeerEntry {
  mrn: string;
  /** The form's short name: 'vital-signs' or 'medication-administration' (others are kept but not shown). */
  form: string;
  at: string;
  author: string;
  medication?: string | null;
  /** The peer's label ("1a2b3c4d"). */
  workstation: string;
}

export interface UnitSeed {
  /** The banner's view (default: no unit share configured). */
  share?: UnitShare;
  peerEntries?: PeerEntry[];
  unsignedElsewhere?: UnitUnsigned[];
  /** What the next sync reports (default: nothing new, no problems). */
  synced?: Partial<Omit<UnitSynced, 'share'>>;
}

/** A unit share of 5 East for tests and the gallery: one peer heard from at 10:40, one not for 25 minutes. */
export const DEMO_SHARE: UnitShare = {
  configured: true,
  reachable: true,
  message: null,
  peers: [
    { label: '4a0bcb32', ageMinutes: 2, stale: false, clockOffsetMinutes: 0, receivedAt: '2026-12-07T10:40:00Z', line: 'WS 4a0bcb32: 10:40' },
    { label: '9c1d2e3f', ageMinutes: 25, stale: true, clockOffsetMinutes: 0, receivedAt: '2026-12-07T10:17:00Z', line: 'WS 9c1d2e3f: not heard from for 25 min' },
  ],
  notHeardFrom: [],
};

const NONE: UnitShare = { configured: false, reachable: false, message: null, peers: [], notHeardFrom: [] };
const VITALS = '/vital-signs|';
const DOSES = '/medication-administration|';

const newestFirst = (a: UnitCharted, b: UnitCharted) => Date.parse(b.at) - Date.parse(a.at);

export function unitApi(state: MemoryState, seed: UnitSeed = {}) {
  const share = () => seed.share ?? NONE;
  const signedIn = () => {
    const s = state.session;
    if (!s) throw new BackendError('not_signed_in', 'Nobody is signed in on this workstation.');
    return s;
  };
  return {
    async unitShare(): Promise<UnitShare> {
      return share();
    },
    async unitSync(): Promise<UnitSynced> {
      signedIn();
      if (!share().configured) {
        throw new BackendError(
          'not_initialised',
          'no unit share is configured: hospital IT sets unit_share_dir in site.json',
        );
      }
      const reachable = share().reachable;
      return {
        share: share(),
        received: reachable ? (seed.synced?.received ?? []) : [],
        published: reachable && (seed.synced?.published ?? false),
        publishProblem: reachable ? (seed.synced?.publishProblem ?? null) : null,
        problems: seed.synced?.problems ?? [],
      };
    },
    async unitOverview(): Promise<UnitOverview> {
      const session = signedIn();
      if (session.role === 'admin') {
        throw new BackendError('forbidden', "An administrator may not read the unit's patients and entries.");
      }
      const entries = [...state.entries.values()].map((e) => e.summary);
      const patients = state.patients.map((p) => {
        const mine = entries.filter((e) => e.patientMrn === p.mrn);
        const here = (kind: string) =>
          mine
            .filter((e) => e.form.includes(kind) && (e.status === 'signed' || e.status === 'amended'))
            .map((e): UnitCharted => ({
              at: e.clinicalTime ?? e.createdAt,
              author: e.author,
              medication: e.medication,
              workstation: null,
            }));
        const peers = (kind: string) =>
          (seed.peerEntries ?? [])
            .filter((e) => e.mrn === p.mrn && `/${e.form}|` === kind)
            .map((e): UnitCharted => ({
              at: e.at,
              author: e.author,
              medication: e.medication ?? null,
              workstation: e.workstation,
            }));
        const vitals = [...here(VITALS), ...peers(VITALS)].sort(newestFirst);
        const drafts = mine.filter((e) => e.status === 'draft').length;
        return {
          mrn: p.mrn,
          name: p.name,
          location: p.location ?? null,
          lastVitals: vitals[0] ?? null,
          doses: [...here(DOSES), ...peers(DOSES)].sort(newestFirst),
          unsignedHere: drafts,
        };
      });
      return { share: share(), patients, unsignedElsewhere: seed.unsignedElsewhere ?? [] };
    },
  };
}
