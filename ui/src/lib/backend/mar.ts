// The MAR's part of the Backend (issue 16): a patient's MAR for the chart's MAR tab, and every patient's overdue doses
// for the charge nurse's unit view. The schedule is the core's (src/mar/): the screens only show it.
import type { DueStatus } from './generated/DueStatus';
import type { MarDose } from './generated/MarDose';
import type { MarDue } from './generated/MarDue';
import type { MarOrder } from './generated/MarOrder';
import type { MarOrderKind } from './generated/MarOrderKind';
import type { MarPrn } from './generated/MarPrn';
import type { MarView } from './generated/MarView';
import type { OverdueDose } from './generated/OverdueDose';
import type { UnitOverdue } from './generated/UnitOverdue';

export type { DueStatus, MarDose, MarDue, MarOrder, MarOrderKind, MarPrn, MarView, OverdueDose, UnitOverdue };

export interface MarApi {
  /** The patient's orders with their due times for the open episode and what became of each. Audited as a view. */
  patientMar(mrn: string): Promise<MarView>;
  /** Every patient's overdue doses, oldest first (the charge desk). */
  unitOverdue(): Promise<UnitOverdue>;
}
