// The HIM desk's part of the Backend: the station's handoff key, importing handoff files, the reconciliation
// worklist and its decisions, paper back-entry, FHIR export and posting, the reconciliation report.
import type { DuplicateProposal } from './generated/DuplicateProposal';
import type { FhirBatch } from './generated/FhirBatch';
import type { FhirPostProgress } from './generated/FhirPostProgress';
import type { FhirPostReport } from './generated/FhirPostReport';
import type { FhirReadback } from './generated/FhirReadback';
import type { FileWritten } from './generated/FileWritten';
import type { HandoffConflict } from './generated/HandoffConflict';
import type { HandoffFolder } from './generated/HandoffFolder';
import type { HandoffImportOutcome } from './generated/HandoffImportOutcome';
import type { HandoffImported } from './generated/HandoffImported';
import type { HimKey } from './generated/HimKey';
import type { PaperDose } from './generated/PaperDose';
import type { PaperEntered } from './generated/PaperEntered';
import type { PaperEntryOutcome } from './generated/PaperEntryOutcome';
import type { PaperEntryRequest } from './generated/PaperEntryRequest';
import type { PaperEpisode } from './generated/PaperEpisode';
import type { PaperPageEntered } from './generated/PaperPageEntered';
import type { PaperScan } from './generated/PaperScan';
import type { ReconState } from './generated/ReconState';
import type { ReconSummary } from './generated/ReconSummary';
import type { ShareCopy } from './generated/ShareCopy';
import type { ShareImportResult } from './generated/ShareImportResult';
import type { ShareImportedLine } from './generated/ShareImportedLine';
import type { ShareOnlyLine } from './generated/ShareOnlyLine';
import type { SideBySide } from './generated/SideBySide';
import type { WorklistItem } from './generated/WorklistItem';
import type { WorklistPage } from './generated/WorklistPage';
import type { WorklistQuery } from './generated/WorklistQuery';

export type {
  DuplicateProposal,
  FhirBatch,
  FhirPostProgress,
  FhirPostReport,
  FhirReadback,
  FileWritten,
  HandoffConflict,
  HandoffFolder,
  HandoffImportOutcome,
  HandoffImported,
  HimKey,
  PaperDose,
  PaperEntered,
  PaperEntryOutcome,
  PaperEntryRequest,
  PaperEpisode,
  PaperPageEntered,
  PaperScan,
  ReconState,
  ReconSummary,
  ShareCopy,
  ShareImportResult,
  ShareImportedLine,
  ShareOnlyLine,
  SideBySide,
  WorklistItem,
  WorklistPage,
  WorklistQuery,
};

export interface HimApi {
  /** Creates the station's handoff key pair on first use; shows the public key and fingerprint for site configs. */
  himKeygen(): Promise<HimKey>;
  /** The site's handoff import folder and the `.dtkh` files in it (read by Rust; the window cannot browse). */
  himImportFolder(): Promise<HandoffFolder>;
  /** Imports each file on its own; one result per file, refused ones with their reason. */
  himImportFiles(paths: string[]): Promise<HandoffImportOutcome[]>;
  /** Imports a unit share's copy (a folder of workstation folders of segments): a dead PC's entries reach HIM. */
  himImportShare(path: string): Promise<ShareImportResult>;
  /** One page of the worklist, filtered and paged by the core. */
  himWorklist(query: WorklistQuery): Promise<WorklistPage>;
  himSummary(): Promise<ReconSummary>;
  /** Matches a downtime registration to a real MRN; resolves with every entry of the patient that followed. */
  himMatch(entryId: string, mrn: string): Promise<string[]>;
  himAccept(entryIds: string[]): Promise<number>;
  himAcceptAllMatched(): Promise<number>;
  himReject(entryId: string, reason: string): Promise<void>;
  himNeedsCorrection(entryId: string, reason: string): Promise<void>;
  /** Entries the EHR refused go back to accepted, for the next export batch (`note`: what was fixed). */
  himRepost(entryIds: string[], note: string | null): Promise<number>;
  /** An entry the EHR refused was typed in by hand there: who, when (RFC 3339), where. */
  himEnteredByHand(entryId: string, by: string, at: string, place: string): Promise<void>;
  /** Records that `entryId` duplicates `of` (which is kept). */
  himMarkDuplicate(entryId: string, of: string): Promise<void>;
  himDismissDuplicate(entryId: string, other: string, reason: string): Promise<void>;
  himDuplicateProposals(): Promise<DuplicateProposal[]>;
  himSideBySide(a: string, b: string): Promise<SideBySide>;
  /** Decodes a scanned page's QR code (PNG, JPEG or PDF at `path`) to its form, patient and episode. */
  himReadScan(path: string): Promise<PaperScan>;
  /** The station's episodes (drills left out) a page whose own episode is missing can be put into. */
  himEpisodes(): Promise<PaperEpisode[]>;
  /**
   * Records a paper page: a form filled in by the analyst (or a MAR page's doses, one entry each), into the page's
   * episode, one chosen by the analyst, or a new paper-only episode. A form filled in by the analyst, with the nurse named on the paper as author; the core's findings
   * by linkId (and nothing stored) when it refuses the answers.
   */
  himBackEnter(request: PaperEntryRequest): Promise<PaperEntryOutcome>;
  /** Exports every accepted entry as one FHIR batch written to `path`. */
  himExportFhir(path: string): Promise<FhirBatch>;
  himLatestBatch(): Promise<string | null>;
  /** The FHIR servers of the site's allowlist, by name: the only places a batch can be posted to. */
  himFhirServers(): Promise<string[]>;
  /**
   * Posts a batch to a server of the allowlist, by name (never a URL), with a bearer token for this post only
   * (never stored); a second call sends only what was not answered or was refused.
   */
  himPostFhir(batchId: string, server: string, token: string | null): Promise<FhirPostReport>;
  /** How far the running post has come (polled while `himPostFhir` runs). */
  himPostProgress(): Promise<FhirPostProgress>;
  /**
   * Reads a posted batch back from the server it was posted to (with `token`, a bearer token for this read only, or
   * null): every resource of every posted entry searched for by its identifier; what is missing (or there twice)
   * named by entry, type and identifier.
   */
  himVerifyFhir(batchId: string, token: string | null): Promise<FhirReadback>;
  himReportCsv(path: string): Promise<FileWritten>;
  /** The reconciliation report (summary, entries, episode timelines) as a PDF written to `path`. */
  himReportPdf(path: string): Promise<FileWritten>;
}
