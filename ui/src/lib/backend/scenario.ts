// Drill scenarios on the charge desk (issue 21 item 7): the tabletop scenarios a drill can start from, starting one,
// and the open drill's injects that have arrived with the score so far. Injects still to come never reach the UI.
import type { DrillInject } from './generated/DrillInject';
import type { DrillScenario } from './generated/DrillScenario';
import type { EpisodeStatus } from './generated/EpisodeStatus';
import type { ScenarioChoice } from './generated/ScenarioChoice';
import type { ScenarioExpectation } from './generated/ScenarioExpectation';
import type { ScenarioOptions } from './generated/ScenarioOptions';
import type { ScenarioOutcome } from './generated/ScenarioOutcome';

export type { DrillInject, DrillScenario, ScenarioChoice, ScenarioExpectation, ScenarioOptions, ScenarioOutcome };

export interface ScenarioApi {
  /** The tabletop scenarios a drill can start from (built in and the site's), and the site's files refused. */
  drillScenarios(): Promise<ScenarioOptions>;
  /** Starts a drill from an offered scenario, named by its file name; its declaration is the scenario's. */
  startScenarioDrill(file: string, nextUpdateMinutes: number | null): Promise<EpisodeStatus | null>;
  /** The open drill's injects that have arrived (newest first), when the next arrives, and the score; else null. */
  drillScenario(): Promise<DrillScenario | null>;
  /** Marks an arrived inject seen (once; who and when are recorded). */
  acknowledgeInject(number: number): Promise<DrillScenario | null>;
}
