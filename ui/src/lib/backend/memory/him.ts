// The HIM desk's part of the in-memory test double: a worklist with the core's states and rules (what may be
// accepted, reasons required, duplicates, matching a temporary MRN), paging and filters, import results per file,
// export with a real SHA-256 of what it "writes", and posting with failures that a retry clears.
//
// It mirrors the core's rules closely enough for screens to be tested against it; it is not a second core.
import type { UserCount } from '../generated/UserCount';
import { BackendError } from '../index';
import type * as Him from '../him';
import type { PatientInfo } from '../generated/PatientInfo';
import type { Questionnaire } from '../../forms/questionnaire';
import { clinicalTimeOf, findings as responseFindings } from './nurse';
import { bundledForms, type MemoryState } from './state';
import { ShareCopies, type HimSeedShare } from './him-share';

export const FORM_BASE = 'http://downtimekit.example.org/fhir/Questionnaire/';

/** One seeded worklist row: the fields of a WorklistItem the double keeps, plus the answers the side-by-side shows. */
export interface HimRow extends Him.WorklistItem {
  answers: { linkId: string; text: string }[];
  recordedAt: string;
  /** True for entries of a downtime registration (a temporary MRN): they start pending until matched. */
  temporary: boolean;
}

/** A file in the seeded import folder and what importing it does. */
export interface HimSeedFile {
  name: string;
  bytes: number;
  /** What the core would say: imported (with the rows it adds) or refused (with its code and reason). */
  outcome:
    | {
        rows: HimRow[];
        conflicts?: Him.HandoffConflict[];
        unsignedLeft?: UserCount[] | null;
        restoredFrom?: string[];
        /** The file's workstation, when not its rows' (a restored PC carries the dead PC's entries). */
        workstation?: string;
      }
    | { refused: Him.HandoffImportOutcome['refused'] };
}

export interface HimSeed {
  rows: HimRow[];
  /** Open duplicate proposals, as [entryId, otherId] pairs. */
  proposals: [string, string][];
  importDir?: string | null;
  files?: HimSeedFile[];
  /** Copies of unit shares in the import folder (issue 20 item 4). */
  shares?: HimSeedShare[];
  /** Entry ids the FHIR server refuses at the first post (a retry succeeds). */
  failOnFirstPost?: string[];
  /** The FHIR servers of the site's allowlist: name → base URL (default: one named "EHR"). */
  fhirServers?: Record<string, string>;
  /** A server that asks for a bearer token, and the token it takes. */
  fhirToken?: { server: string; token: string };
  /** Entry ids whose QuestionnaireResponse the FHIR server no longer holds when the batch is read back. */
  missingOnServer?: string[];
  /** Scans the double can "read": path → what its QR code says. */
  scans?: Record<string, Him.PaperScan>;
  /** The analyst's username, recorded as who decided. */
  analyst?: string;
  /** The station's episodes a page can be put into. */
  episodes?: Him.PaperEpisode[];
  /** The patients of the worklist as the station knows them (paper back-entry looks the printed MRN up). */
  patients?: PatientInfo[];
}

/** Seeds the shared state for the HIM desk: the station's forms and the worklist's patients. */
export function seedHimState(state: MemoryState, seed: HimSeed): void {
  if (state.forms.length === 0) state.forms = bundledForms();
  for (const p of seed.patients ?? []) if (!state.patients.some((q) => q.mrn === p.mrn)) state.patients.push(p);
}

const STATES: Him.ReconState[] = [
  'pending',
  'matched',
  'accepted',
  'duplicate',
  'rejected',
  'needs-correction',
  'exported',
  'posted',
  'refused',
  'entered-by-hand',
];

// As the core's `State::is_open`: a refused entry never reached the EHR, so it stays open until a decision.
const OPEN: ReadonlySet<Him.ReconState> = new Set(['pending', 'matched', 'needs-correction', 'accepted', 'refused']);

function shortName(form: string): string {
  const url = form.split('|')[0] ?? form;
  return url.slice(url.lastIndexOf('/') + 1);
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function stamp(): string {
  return new Date().toISOString();
}

interface Proposal {
  a: string;
  b: string;
  status: 'proposed' | 'confirmed' | 'dismissed';
  decidedBy: string | null;
  decidedAt: string | null;
}

interface Batch {
  id: string;
  entries: string[];
  posted: Map<string, string>;
  failedOnce: Set<string>;
  /** The base URL the batch was posted to (what a read-back asks), null before any post. */
  server: string | null;
}

export class HimMemory {
  private rows = new Map<string, HimRow>();
  private proposals: Proposal[] = [];
  private key: Him.HimKey | null = null;
  private importDir: string | null;
  private files: HimSeedFile[];
  private imported = new Set<string>();
  private shares: ShareCopies;
  private seededFrom: Set<string>;
  private batches: Batch[] = [];
  private failOnFirstPost: Set<string>;
  private fhirServers: Record<string, string>;
  private fhirToken: { server: string; token: string } | null;
  private progress: Him.FhirPostProgress = { running: false, sent: 0, accepted: 0, refused: 0, remaining: 0 };
  private missingOnServer: Set<string>;
  private scans: Record<string, Him.PaperScan>;
  private analyst: string;
  private episodes: Him.PaperEpisode[];
  private nextId = 1;

  constructor(
    private readonly calls: string[],
    seed?: HimSeed,
    private readonly state?: MemoryState,
  ) {
    for (const row of seed?.rows ?? []) this.rows.set(row.entryId, { ...row });
    for (const [a, b] of seed?.proposals ?? []) {
      this.proposals.push({ a, b, status: 'proposed', decidedBy: null, decidedAt: null });
    }
    this.importDir = seed?.importDir ?? null;
    this.files = seed?.files ?? [];
    this.shares = new ShareCopies(seed?.shares ?? [], this.importDir);
    this.seededFrom = new Set((seed?.rows ?? []).map((r) => r.workstation));
    this.failOnFirstPost = new Set(seed?.failOnFirstPost ?? []);
    this.fhirServers = seed?.fhirServers ?? { EHR: 'https://ehr.example.org/fhir' };
    this.fhirToken = seed?.fhirToken ?? null;
    this.missingOnServer = new Set(seed?.missingOnServer ?? []);
    this.scans = seed?.scans ?? {};
    this.analyst = seed?.analyst ?? 'lhim';
    this.episodes = [...(seed?.episodes ?? [])];
  }

  private row(id: string): HimRow {
    const row = this.rows.get(id);
    if (!row) throw new BackendError('not_found', `entry ${id} is not on the reconciliation worklist`);
    return row;
  }

  private openProposal(id: string): Proposal | undefined {
    return this.proposals.find((p) => p.status === 'proposed' && (p.a === id || p.b === id));
  }

  private decide(row: HimRow, state: Him.ReconState, reason: string | null = null) {
    if (row.state === 'exported' || row.state === 'posted') {
      throw new BackendError('conflict', `entry ${row.entryId} was exported and is locked`);
    }
    row.state = state;
    row.reason = reason;
    row.decidedBy = this.analyst;
    row.decidedAt = stamp();
  }

  private refreshProposed() {
    for (const row of this.rows.values()) {
      row.proposedDuplicates = this.proposals
        .filter((p) => p.status === 'proposed' && (p.a === row.entryId || p.b === row.entryId))
        .map((p) => (p.a === row.entryId ? p.b : p.a));
    }
  }

  private static reason(text: string): string {
    const reason = text.trim();
    if (reason === '') throw new BackendError('invalid_input', 'a reason is required');
    return reason;
  }

  async himKeygen(): Promise<Him.HimKey> {
    this.calls.push('himKeygen');
    if (this.key) return { ...this.key, created: false };
    this.key = {
      publicKey: '3f9c2a71d04e8b65a1c7f0e29d3b4c58e6a7f1b20c9d8e3f4a5b6c7d8e9f0a1b',
      fingerprint: '3F9C 2A71 D04E 8B65',
      created: true,
    };
    return this.key;
  }

  async himImportFolder(): Promise<Him.HandoffFolder> {
    this.calls.push('himImportFolder');
    const shareOnly = this.shares.shareOnly(this.rows, this.handedOff());
    if (this.importDir === null) return { dir: null, files: [], shares: [], shareOnly };
    return {
      dir: this.importDir,
      files: this.files.map((f) => ({ name: f.name, path: `${this.importDir}/${f.name}`, bytes: f.bytes })),
      shares: this.shares.list(),
      shareOnly,
    };
  }

  /** The workstations a handoff file of which was imported (the seeded worklist came from handoff files). */
  private handedOff(): Set<string> {
    const out = new Set<string>(this.seededFrom);
    for (const f of this.files) {
      if (!this.imported.has(f.name) || 'refused' in f.outcome) continue;
      const ws = f.outcome.workstation ?? f.outcome.rows[0]?.workstation;
      if (ws) out.add(ws);
    }
    return out;
  }

  async himImportShare(path: string): Promise<Him.ShareImportResult> {
    this.calls.push('himImportShare');
    try {
      const result = this.shares.import(path, this.rows);
      this.refreshProposed();
      return result;
    } catch (error) {
      throw new BackendError('io', (error as Error).message);
    }
  }

  async himImportFiles(paths: string[]): Promise<Him.HandoffImportOutcome[]> {
    this.calls.push('himImportFiles');
    return paths.map((path) => {
      const file = this.files.find((f) => `${this.importDir}/${f.name}` === path.trim() || f.name === path.trim());
      if (!file) {
        return { path, imported: null, refused: { code: 'io', message: `${path} cannot be read: no such file` } };
      }
      if ('refused' in file.outcome) return { path, imported: null, refused: file.outcome.refused };
      const again = this.imported.has(file.name);
      const fresh = again ? [] : file.outcome.rows.filter((r) => !this.rows.has(r.entryId));
      for (const row of fresh) this.rows.set(row.entryId, { ...row });
      this.imported.add(file.name);
      this.refreshProposed();
      return {
        path,
        refused: null,
        imported: {
          workstation: file.outcome.workstation ?? file.outcome.rows[0]?.workstation ?? 'unknown',
          episode: file.outcome.rows[0]?.episodeId ?? 'unknown',
          sequence: 1,
          fileSha256: 'c0ffee'.padEnd(64, '0'),
          signerFingerprint: 'A1B2 C3D4 E5F6 0718',
          alreadyImported: again,
          newEntries: fresh.length,
          newVersions: fresh.length,
          unchangedVersions: again ? file.outcome.rows.length : file.outcome.rows.length - fresh.length,
          newPatients: again ? 0 : new Set(fresh.filter((r) => r.temporary).map((r) => r.mrn)).size,
          newAuditRows: fresh.length * 3,
          conflicts: again ? [] : (file.outcome.conflicts ?? []),
          pending: fresh.filter((r) => r.state === 'pending').length,
          duplicateProposals: 0,
          // A seeded file says what it left unsigned unless it says otherwise (an older writer says nothing: null).
          unsignedLeft: file.outcome.unsignedLeft === undefined ? [] : file.outcome.unsignedLeft,
          restoredFrom: file.outcome.restoredFrom ?? [],
        },
      };
    });
  }

  async himWorklist(query: Him.WorklistQuery): Promise<Him.WorklistPage> {
    this.calls.push('himWorklist');
    const mrn = query.mrn?.trim() || null;
    const form = query.form?.trim() || null;
    const workstation = query.workstation?.trim() || null;
    const matching = [...this.rows.values()]
      .filter((r) => query.state === null || r.state === query.state)
      .filter((r) => mrn === null || r.mrn === mrn || r.matchedMrn === mrn)
      .filter((r) => form === null || r.form === form || shortName(r.form) === form)
      .filter((r) => workstation === null || r.workstation === workstation)
      .sort((a, b) => (a.entryId < b.entryId ? -1 : 1));
    const limit = query.limit === 0 ? 100 : query.limit;
    const items = matching.slice(query.offset, query.offset + limit).map((r) => {
      const { answers: _a, recordedAt: _r, temporary: _t, ...item } = r;
      return { ...item, proposedDuplicates: [...item.proposedDuplicates] };
    });
    return { total: matching.length, offset: query.offset, items };
  }

  private acceptable(): HimRow[] {
    return [...this.rows.values()].filter((r) => r.state === 'matched' && !this.openProposal(r.entryId));
  }

  async himSummary(): Promise<Him.ReconSummary> {
    this.calls.push('himSummary');
    const count = (s: Him.ReconState) => [...this.rows.values()].filter((r) => r.state === s).length;
    return {
      total: this.rows.size,
      pending: count('pending'),
      matched: count('matched'),
      accepted: count('accepted'),
      duplicate: count('duplicate'),
      rejected: count('rejected'),
      needsCorrection: count('needs-correction'),
      exported: count('exported'),
      posted: count('posted'),
      refused: count('refused'),
      enteredByHand: count('entered-by-hand'),
      open: [...this.rows.values()].filter((r) => OPEN.has(r.state)).length,
      openDuplicateProposals: this.proposals.filter((p) => p.status === 'proposed').length,
      conflicts: 0,
      acceptable: this.acceptable().length,
    };
  }

  async himMatch(entryId: string, mrn: string): Promise<string[]> {
    this.calls.push('himMatch');
    const real = mrn.trim();
    if (real === '' || real.length > 64) throw new BackendError('invalid_input', 'the MRN must be 1–64 plain characters');
    const row = this.row(entryId);
    if (!row.temporary && row.state !== 'pending') {
      throw new BackendError(
        'conflict',
        `entry ${entryId} is ${row.state}: only downtime registrations (temporary MRNs) are matched by hand`,
      );
    }
    const follow = [...this.rows.values()].filter(
      (r) => r.mrn === row.mrn && (r.state === 'pending' || r.state === 'matched'),
    );
    for (const r of follow) {
      this.decide(r, 'matched');
      r.matchedMrn = real;
    }
    return follow.map((r) => r.entryId).sort();
  }

  async himAccept(entryIds: string[]): Promise<number> {
    this.calls.push('himAccept');
    for (const id of entryIds) {
      const row = this.row(id);
      if (row.state !== 'matched' && row.state !== 'needs-correction') {
        throw new BackendError('conflict', `entry ${id} is ${row.state}: only matched entries (or corrected ones) can be accepted`);
      }
      const open = this.openProposal(id);
      if (open) {
        throw new BackendError('conflict', `entry ${id} has a proposed duplicate; confirm it or dismiss it first`);
      }
    }
    for (const id of entryIds) this.decide(this.row(id), 'accepted');
    return entryIds.length;
  }

  async himAcceptAllMatched(): Promise<number> {
    this.calls.push('himAcceptAllMatched');
    const rows = this.acceptable();
    for (const r of rows) this.decide(r, 'accepted');
    return rows.length;
  }

  async himReject(entryId: string, reason: string): Promise<void> {
    this.calls.push('himReject');
    const why = HimMemory.reason(reason);
    const row = this.row(entryId);
    if (row.state === 'duplicate') throw new BackendError('conflict', `entry ${entryId} is duplicate: it already has a disposition`);
    this.decide(row, 'rejected', why);
  }

  async himNeedsCorrection(entryId: string, reason: string): Promise<void> {
    this.calls.push('himNeedsCorrection');
    const why = HimMemory.reason(reason);
    const row = this.row(entryId);
    if (row.state === 'duplicate' || row.state === 'rejected') {
      throw new BackendError('conflict', `entry ${entryId} is ${row.state}: it already has a disposition`);
    }
    this.decide(row, 'needs-correction', why);
  }

  private refused(entryId: string, what: string): HimRow {
    const row = this.row(entryId);
    if (row.state !== 'refused') throw new BackendError('conflict', `entry ${entryId} is ${row.state}: ${what}`);
    return row;
  }

  async himRepost(entryIds: string[], note: string | null): Promise<number> {
    this.calls.push('himRepost');
    void note;
    for (const id of entryIds) this.refused(id, 'only entries the EHR refused can be reposted');
    for (const id of entryIds) this.decide(this.row(id), 'accepted');
    return entryIds.length;
  }

  async himEnteredByHand(entryId: string, by: string, at: string, place: string): Promise<void> {
    this.calls.push('himEnteredByHand');
    if (by.trim() === '' || place.trim() === '') throw new BackendError('invalid_input', 'say who entered it and where');
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(at.trim())) {
      throw new BackendError('invalid_input', 'when it was entered must be a time with seconds and offset (RFC 3339)');
    }
    const row = this.refused(entryId, 'only entries the EHR refused can be recorded as entered by hand');
    const why = row.reason;
    this.decide(row, 'entered-by-hand', why);
  }

  async himMarkDuplicate(entryId: string, of: string): Promise<void> {
    this.calls.push('himMarkDuplicate');
    if (entryId === of) throw new BackendError('invalid_input', 'an entry cannot be a duplicate of itself');
    const row = this.row(entryId);
    const kept = this.row(of);
    if (kept.state === 'duplicate' || kept.state === 'rejected') {
      throw new BackendError('conflict', `entry ${of} is ${kept.state}: the entry kept must not itself be a duplicate or rejected`);
    }
    const [a, b] = entryId < of ? [entryId, of] : [of, entryId];
    const p = this.proposals.find((x) => x.a === a && x.b === b);
    const decided = { status: 'confirmed' as const, decidedBy: this.analyst, decidedAt: stamp() };
    if (p) Object.assign(p, decided);
    else this.proposals.push({ a, b, ...decided });
    this.decide(row, 'duplicate');
    row.duplicateOf = of;
    this.refreshProposed();
  }

  async himDismissDuplicate(entryId: string, other: string, reason: string): Promise<void> {
    this.calls.push('himDismissDuplicate');
    HimMemory.reason(reason);
    const [a, b] = entryId < other ? [entryId, other] : [other, entryId];
    const p = this.proposals.find((x) => x.a === a && x.b === b && x.status === 'proposed');
    if (!p) throw new BackendError('invalid_input', `there is no open duplicate proposal between ${entryId} and ${other}`);
    Object.assign(p, { status: 'dismissed', decidedBy: this.analyst, decidedAt: stamp() });
    this.refreshProposed();
  }

  async himDuplicateProposals(): Promise<Him.DuplicateProposal[]> {
    this.calls.push('himDuplicateProposals');
    return this.proposals
      .filter((p) => p.status === 'proposed')
      .map((p) => ({ entryId: p.a, otherId: p.b, status: p.status, decidedBy: p.decidedBy, decidedAt: p.decidedAt }));
  }

  private card(row: HimRow): Him.SideBySide['left'] {
    return {
      entryId: row.entryId,
      workstation: row.workstation,
      paper: row.paper,
      author: row.author,
      form: row.form,
      entryStatus: row.entryStatus,
      version: row.version,
      state: row.state,
      recordedAt: row.recordedAt,
      clinicalTime: row.clinicalTime,
      patientName: row.patientName,
      birthDate: row.birthDate,
      mrn: row.mrn,
      medication: row.medication,
      answers: row.answers.map((a) => ({ ...a })),
    };
  }

  async himSideBySide(a: string, b: string): Promise<Him.SideBySide> {
    this.calls.push('himSideBySide');
    const left = this.card(this.row(a));
    const right = this.card(this.row(b));
    const l = new Map(left.answers.map((x) => [x.linkId, x.text]));
    const r = new Map(right.answers.map((x) => [x.linkId, x.text]));
    const differences: string[] = [];
    for (const k of [...l.keys(), ...r.keys()]) {
      if (l.get(k) !== r.get(k) && !differences.includes(k)) differences.push(k);
    }
    return { left, right, differences };
  }

  async himReadScan(path: string): Promise<Him.PaperScan> {
    this.calls.push('himReadScan');
    const scan = this.scans[path.trim()];
    if (!scan) {
      throw new BackendError('invalid_input', 'the file is not a readable PNG, JPEG or PDF image');
    }
    return { ...scan };
  }

  async himEpisodes(): Promise<Him.PaperEpisode[]> {
    this.calls.push('himEpisodes');
    return this.episodes.map((e) => ({ ...e }));
  }

  /** As the core's `resolve_episode`: the page's own episode, one of its unit on the station, or a new paper-only one. */
  private assign(scan: Him.PaperScan, request: Him.PaperEntryRequest): [string, Him.PaperEpisode | null] {
    const chosen = request.episode?.trim() || null;
    const unit = request.paperEpisodeUnit?.trim() || null;
    const own = scan.episode ? this.episodes.find((e) => e.id === scan.episode) : undefined;
    if (chosen && unit) throw new BackendError('invalid_input', 'Choose an episode of the station or a new paper-only episode, not both.');
    if (own && (chosen ?? own.id) !== own.id) {
      throw new BackendError('invalid_input', 'the page belongs to its own episode on this station: it cannot be moved out of it');
    }
    if (unit) {
      if (own) throw new BackendError('invalid_input', 'the page belongs to its own episode on this station: it cannot be moved out of it');
      if (scan.unit && scan.unit !== unit) throw new BackendError('invalid_input', 'the page was printed for another unit');
      const created: Him.PaperEpisode = {
        id: `paper-episode-${String(this.nextId++).padStart(4, '0')}`,
        unit,
        startedAt: request.period?.start ?? stamp(),
        endedAt: request.period?.end ?? stamp(),
        paperOnly: true,
      };
      this.episodes.unshift(created);
      return [created.id, { ...created }];
    }
    if (chosen) {
      const episode = this.episodes.find((e) => e.id === chosen);
      if (!episode) throw new BackendError('not_found', 'no such episode on this station');
      if (scan.unit && episode.unit !== scan.unit) throw new BackendError('invalid_input', 'the episode is of another unit than the page');
      return [episode.id, null];
    }
    if (own) return [own.id, null];
    throw new BackendError(
      'invalid_input',
      scan.episode
        ? "the page's episode never reached this station: assign the page to an episode of its unit or a paper-only episode"
        : "the paper form's QR code names no downtime episode: assign the page to an episode of its unit or a paper-only episode",
    );
  }

  /** What each entry is, before anything is stored: a form's answers and author, or one row per dose of a MAR page. */
  private typed(scan: Him.PaperScan, request: Him.PaperEntryRequest): Pick<HimRow, 'form' | 'author' | 'clinicalTime' | 'medication'>[] | Him.PaperEntryOutcome {
    if (scan.mar) {
      const doses = request.doses ?? [];
      if (doses.length === 0) throw new BackendError('invalid_input', 'a downtime MAR page is entered dose by dose: give the doses read from it');
      return doses.map((d, i) => {
        const problem = (p: string) => new BackendError('invalid_input', `dose ${i + 1} read from the MAR page: ${p}`);
        if (d.initials.trim() === '') throw problem('the initials in the cell are required');
        if (d.medication.trim() === '') throw problem('the medication is required');
        if (!/^\d+(\.\d+)?\s*\S+/.test(d.dose.trim())) throw problem('the dose needs a number and a unit, such as "2 mg"');
        if (d.time.trim() === '' || Number.isNaN(Date.parse(d.time))) throw problem('the time is required (RFC 3339 with its offset)');
        const name = d.name?.trim();
        return {
          form: `${FORM_BASE}medication-administration|1.0.0`,
          author: name ? `${name} (${d.initials.trim()})` : d.initials.trim(),
          clinicalTime: d.time.trim(),
          medication: `${d.medication.trim()} ${d.dose.trim()} ${d.route.trim()}`.trim(),
        };
      });
    }
    const author = request.author?.trim() ?? '';
    if (author === '') {
      throw new BackendError('invalid_input', 'the author named on the paper form is required (plain text)');
    }
    const response = (request.response ?? {}) as {
      questionnaire?: string;
      subject?: { identifier?: { value?: string } };
    };
    if (response.questionnaire !== scan.form) {
      throw new BackendError(
        'invalid_input',
        'the response is for another form than the one printed on the paper (its QR code)',
      );
    }
    if (scan.mrn && response.subject?.identifier?.value !== scan.mrn) {
      throw new BackendError(
        'invalid_input',
        "the response's patient differs from the patient printed on the paper form (its QR code)",
      );
    }
    const form = this.state?.forms.find((f) => f.canonical === scan.form);
    let clinicalTime: string | null = null;
    if (form) {
      const found = responseFindings(form.questionnaire as Questionnaire, request.response as never);
      // A form that asks "When did this happen?" needs the time written in that box on the page, as at the keyboard.
      clinicalTime = clinicalTimeOf(form, null, request.clinicalTime ?? null, found);
      if (found.some((f) => f.severity === 'error')) return { entered: null, findings: found };
    }
    return [{ form: scan.form, author, clinicalTime, medication: null }];
  }

  async himBackEnter(request: Him.PaperEntryRequest): Promise<Him.PaperEntryOutcome> {
    this.calls.push('himBackEnter');
    const scan = Object.values(this.scans).find((s) => s.qr === request.qr);
    if (!scan) throw new BackendError('invalid_input', "The page's QR code: not a Downtime Kit code");
    const typed = this.typed(scan, request);
    if (!Array.isArray(typed)) return typed;
    const [episodeId, paperEpisode] = this.assign(scan, request);
    const page = `${shortName(scan.form)} for ${scan.unit ?? 'an unnamed unit'}, ${scan.episode ? `episode ${scan.episode}` : 'printed before any episode'}`;
    const base = [...this.rows.values()].find((r) => r.mrn === scan.mrn);
    const entries: Him.PaperEntered[] = typed.map((entry) => {
      const id = `paper-${String(this.nextId++).padStart(4, '0')}`;
      this.rows.set(id, {
        entryId: id,
        state: 'matched',
        duplicateOf: null,
        batchId: null,
        reason: null,
        workstation: 'HIM-STATION',
        episodeId,
        paper: true,
        entryStatus: 'signed',
        version: 1,
        patientName: base?.patientName ?? 'Unknown patient',
        birthDate: base?.birthDate ?? null,
        mrn: scan.mrn ?? 'unknown',
        location: base?.location ?? null,
        matchedMrn: null,
        paperPage: page,
        proposedDuplicates: [],
        decidedBy: this.analyst,
        decidedAt: stamp(),
        answers: [],
        recordedAt: stamp(),
        temporary: false,
        ...entry,
      });
      return { entryId: id, version: 1, storedAt: stamp() };
    });
    return { entered: { entries, episodeId, paperEpisode, page }, findings: [] };
  }

  async himExportFhir(path: string): Promise<Him.FhirBatch> {
    this.calls.push('himExportFhir');
    if (path.trim() === '') throw new BackendError('invalid_input', 'name the file to write');
    const accepted = [...this.rows.values()].filter((r) => r.state === 'accepted').sort((a, b) => (a.entryId < b.entryId ? -1 : 1));
    if (accepted.length === 0) throw new BackendError('not_found', 'no accepted entries are waiting for export');
    const id = `batch-${String(this.batches.length + 1).padStart(3, '0')}`;
    const body = JSON.stringify({ resourceType: 'Bundle', type: 'transaction', id, entries: accepted.map((r) => r.entryId) });
    for (const r of accepted) {
      r.state = 'exported';
      r.batchId = id;
      r.decidedBy = this.analyst;
      r.decidedAt = stamp();
    }
    this.batches.push({ id, entries: accepted.map((r) => r.entryId), posted: new Map(), failedOnce: new Set(), server: null });
    return { batchId: id, entries: accepted.length, sha256: await sha256Hex(body), bytes: body.length, path: path.trim() };
  }

  async himLatestBatch(): Promise<string | null> {
    this.calls.push('himLatestBatch');
    return this.batches.at(-1)?.id ?? null;
  }

  async himFhirServers(): Promise<string[]> {
    this.calls.push('himFhirServers');
    return Object.keys(this.fhirServers);
  }

  async himPostProgress(): Promise<Him.FhirPostProgress> {
    this.calls.push('himPostProgress');
    return { ...this.progress };
  }

  async himPostFhir(batchId: string, server: string, token: string | null): Promise<Him.FhirPostReport> {
    this.calls.push('himPostFhir');
    const batch = this.batches.find((b) => b.id === batchId);
    if (!batch) throw new BackendError('not_found', `there is no export batch ${batchId}`);
    // As the core: a server is chosen by name from the site's allowlist, never given as a URL.
    const base = this.fhirServers[server];
    if (base === undefined) {
      const names = Object.keys(this.fhirServers).map((n) => `"${n}"`).join(', ');
      throw new BackendError('invalid_input', `no server is named "${server}": choose one of the FHIR servers in site.json: ${names}`);
    }
    if (this.fhirToken?.server === server && token !== this.fhirToken.token) {
      throw new BackendError(
        'unavailable',
        `the FHIR server "${server}" answered HTTP 401: ${token ? 'it refused the credentials given' : 'it asks for credentials'}; nothing more was posted`,
      );
    }
    batch.server = base.replace(/\/$/, '');
    const todo = batch.entries.filter((id) => !batch.posted.has(id));
    const report: Him.FhirPostReport = { batchId, server, posted: [], failed: [], alreadyPosted: batch.posted.size };
    this.progress = { running: true, sent: todo.length, accepted: 0, refused: 0, remaining: todo.length };
    for (const id of todo) {
      const row = this.rows.get(id);
      // As the core: a retry of the batch sends only what still waits on it (exported or refused in it).
      if (row && !((row.state === 'exported' || row.state === 'refused') && row.batchId === batchId)) continue;
      if (this.failOnFirstPost.has(id) && !batch.failedOnce.has(id)) {
        batch.failedOnce.add(id);
        const text = 'Observation.valueQuantity: unit code not recognised by the server';
        report.failed.push({ entryId: id, text });
        if (row) {
          row.state = 'refused';
          row.reason = text;
        }
        continue;
      }
      const location = `${base.replace(/\/$/, '')}/QuestionnaireResponse/${id}/_history/1`;
      batch.posted.set(id, location);
      report.posted.push({ entryId: id, text: location });
      if (row) {
        row.state = 'posted';
        row.reason = null;
      }
    }
    this.progress = {
      running: false,
      sent: todo.length,
      accepted: report.posted.length,
      refused: report.failed.length,
      remaining: todo.length - report.posted.length - report.failed.length,
    };
    return report;
  }

  async himVerifyFhir(batchId: string, token: string | null): Promise<Him.FhirReadback> {
    this.calls.push('himVerifyFhir');
    const batch = this.batches.find((b) => b.id === batchId);
    if (!batch) throw new BackendError('not_found', `there is no export batch ${batchId}`);
    const server = batch.server;
    if (server === null) {
      throw new BackendError('invalid_input', `batch ${batchId} has not been posted to a FHIR server yet: post it first, then verify it`);
    }
    // As the core: read back through the allowlist's server the batch was posted to, with the token given.
    const name = Object.keys(this.fhirServers).find((n) => (this.fhirServers[n] ?? '').replace(/\/$/, '') === server);
    if (name === undefined) {
      throw new BackendError(
        'invalid_input',
        `batch ${batchId} was posted to ${server}, which is no longer a server of the site's fhir_servers: IT adds it back to site.json to read the batch back`,
      );
    }
    if (this.fhirToken?.server === name && token !== this.fhirToken.token) {
      throw new BackendError(
        'unavailable',
        `the FHIR server "${name}" answered HTTP 401: ${token ? 'it refused the credentials given' : 'it asks for credentials'}`,
      );
    }
    // As the core: every posted entry read back (here a QuestionnaireResponse and a Provenance each), plus the
    // batch's AuditEvent; a response the server lost is named by entry, type and identifier.
    const posted = [...batch.posted.keys()];
    const problems = posted
      .filter((id) => this.missingOnServer.has(id))
      .map((id) => ({ entryId: id, state: 'missing', text: `QuestionnaireResponse urn:uuid:${id} is missing` }));
    const verified = posted.length - problems.length;
    return {
      batchId,
      server,
      entries: posted.length,
      verified,
      resources: posted.length * 2 - problems.length + 1,
      foundPerType: [
        { resourceType: 'AuditEvent', count: 1 },
        { resourceType: 'Provenance', count: posted.length },
        { resourceType: 'QuestionnaireResponse', count: verified },
      ],
      auditEvent: 1,
      auditEventExpected: true,
      notPosted: batch.entries.length - posted.length,
      problems,
      allPresent: problems.length === 0,
    };
  }

  async himReportCsv(path: string): Promise<Him.FileWritten> {
    this.calls.push('himReportCsv');
    if (path.trim() === '') throw new BackendError('invalid_input', 'name the file to write');
    const counts = STATES.map((s) => `${s},${[...this.rows.values()].filter((r) => r.state === s).length}`);
    const csv = ['state,count', ...counts].join('\n') + '\n';
    return { path: path.trim(), sha256: await sha256Hex(csv), bytes: csv.length };
  }

  async himReportPdf(path: string): Promise<Him.FileWritten> {
    this.calls.push('himReportPdf');
    if (path.trim() === '') throw new BackendError('invalid_input', 'Type the path of the PDF file to write.');
    // Stands in for the PDF's bytes: what the core's report prints, in the double's terms.
    const body = `%PDF-1.7 reconciliation report: ${[...this.rows.values()].length} entries\n`;
    return { path: path.trim(), sha256: await sha256Hex(body), bytes: body.length };
  }
}
