// The unit share (issue 20): every workstation of a unit sees the unit's entries while the EHR is down. The banner
// shows each peer workstation and how fresh it is (or plainly that the share is unreachable: charting goes on), it
// syncs on a timer, and the charge desk shows the unit overview. The core does the work (src/unit/, src/api/unit*.rs).
import type { UnitCharted } from './generated/UnitCharted';
import type { UnitOverview } from './generated/UnitOverview';
import type { UnitPatient } from './generated/UnitPatient';
import type { UnitPeer } from './generated/UnitPeer';
import type { UnitShare } from './generated/UnitShare';
import type { UnitSynced } from './generated/UnitSynced';
import type { UnitUnsigned } from './generated/UnitUnsigned';

export type { UnitCharted, UnitOverview, UnitPatient, UnitPeer, UnitShare, UnitSynced, UnitUnsigned };

export interface UnitApi {
  /** The banner's view of the unit share; needs no sign-in (it names workstations, never patients). */
  unitShare(): Promise<UnitShare>;
  /** One sync now: publishes this workstation's new records, reads the peers' new segments. Problems are answered, not thrown. */
  unitSync(): Promise<UnitSynced>;
  /** The charge nurse's unit overview: per patient, the last vitals and doses given on any workstation, and what is unsigned where. */
  unitOverview(): Promise<UnitOverview>;
}
