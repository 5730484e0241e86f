// Unit share copies on the HIM desk in the in-memory double (issue 20 item 4): the copies found in the import folder,
// importing one (rows already on the worklist are counted as already here, a segment the core would refuse stops its
// workstation and is named), and the workstations whose entries came only through a share, computed as the core
// computes them (src/api/share_import.rs): rows of a share workstation while no handoff file of it was imported.
// The double does not read segments; the core does, and tests/it/unit_share.rs drives it with real vaults.
import type * as Him from '../him';
import type { HimRow } from './him';

/** One workstation folder of a seeded share copy: its segments, the rows they bring, and what the newest says. */
export interface HimSeedShareWorkstation {
  workstation: string;
  segments: number;
  /** When the workstation wrote its newest segment, by its clock. */
  writtenAt: string;
  rows: HimRow[];
  /** What its newest segment says its authors left unsigned. */
  unsigned?: number;
  /** The core's words for a segment it refuses; nothing of this workstation is imported. */
  refused?: string;
}

/** A seeded copy of a unit share in the import folder. */
export interface HimSeedShare {
  name: string;
  workstations: HimSeedShareWorkstation[];
}

/** How a person names a workstation: the first 8 letters and digits of its id (as the core's `short_id`). */
export function shortId(workstation: string): string {
  return [...workstation].filter((c) => /[A-Za-z0-9]/.test(c)).slice(0, 8).join('');
}

export class ShareCopies {
  /** Per workstation: its newest segment imported (the copy it came from), as the core's unit_segments. */
  private newest = new Map<string, HimSeedShareWorkstation>();

  constructor(
    private readonly shares: HimSeedShare[],
    private readonly dir: string | null,
  ) {}

  list(): Him.ShareCopy[] {
    if (this.dir === null) return [];
    return this.shares.map((s) => ({
      name: s.name,
      path: `${this.dir}/${s.name}`,
      workstations: s.workstations.length,
      segments: s.workstations.reduce((n, w) => n + w.segments, 0),
    }));
  }

  /** Imports the copy at `path` into `rows` (the worklist), segments imported before adding nothing. */
  import(path: string, rows: Map<string, HimRow>): Him.ShareImportResult {
    const share = this.shares.find((s) => `${this.dir}/${s.name}` === path.trim() || s.name === path.trim());
    if (!share) throw Object.assign(new Error(`the unit share copy ${path} cannot be read: no such folder`), { code: 'io' });
    const result: Him.ShareImportResult = { dir: path, workstations: [], problems: [] };
    for (const w of share.workstations) {
      if (w.refused) {
        result.problems.push(w.refused);
        continue;
      }
      const before = this.newest.get(w.workstation)?.segments ?? 0;
      if (before >= w.segments) continue;
      const fresh = w.rows.filter((r) => !rows.has(r.entryId));
      for (const r of fresh) rows.set(r.entryId, { ...r });
      this.newest.set(w.workstation, w);
      result.workstations.push({
        workstation: w.workstation,
        label: shortId(w.workstation),
        segments: w.segments - before,
        newEntries: fresh.length,
        newVersions: fresh.length,
        unchangedVersions: w.rows.length - fresh.length,
        newPatients: 0,
        pending: fresh.filter((r) => r.state === 'pending').length,
        duplicateProposals: 0,
        drillEntries: 0,
        conflicts: [],
      });
    }
    return result;
  }

  /** The share workstations with rows on the worklist and no handoff file imported (`handedOff`). */
  shareOnly(rows: Map<string, HimRow>, handedOff: Set<string>): Him.ShareOnlyLine[] {
    const out: Him.ShareOnlyLine[] = [];
    for (const [workstation, w] of [...this.newest.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (handedOff.has(workstation)) continue;
      const entries = [...rows.values()].filter((r) => r.workstation === workstation).length;
      if (entries === 0) continue;
      const label = shortId(workstation);
      const unsigned = w.unsigned ?? 0;
      out.push({
        workstation,
        label,
        entries,
        newestSegment: w.segments,
        newestWrittenAt: w.writtenAt,
        unsigned,
        message:
          `WS ${label}: ${entries} ${entries === 1 ? 'entry' : 'entries'} came only through the unit share (its newest segment, #${w.segments}, was written at ${w.writtenAt}); ` +
          `no handoff file of it has been imported for ${entries === 1 ? 'its episode' : 'their episodes'}: what it charted after that` +
          `${unsigned === 0 ? '' : unsigned === 1 ? ', and the unsigned entry it said it left' : `, and the ${unsigned} unsigned entries it said it left`}, may still be on that PC. ` +
          'Find the PC or its backup and import its handoff file.',
      });
    }
    return out;
  }
}
