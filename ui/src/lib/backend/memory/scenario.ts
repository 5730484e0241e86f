// Drill scenarios in the in-memory test double (issue 21 item 7): the scenarios offered, a drill started from one
// (through the charge double's declareEpisode, so the desk and the banner see the drill), the injects that have
// arrived by `now`, marks "seen", and the score. It scores from what the charge double's status shows (roles,
// decisions, updates, ticks and the current severity); it does not check scenario files, which the core does
// (src/scenario.rs) and tests/contract/scenario.json holds both to.
import { BackendError } from '../index';
import type * as C from '../charge';
import type * as S from '../scenario';
import type { MemoryCharge } from './charge';
import builtIn from '../../../../../scenarios/ehr-down-mass-casualty.json';

/** A scenario as its file says it (the core's `Scenario`). */
export interface ScenarioFile {
  id: string;
  title: string;
  description?: string;
  declaration?: { reason?: string; severity?: C.Severity; affected?: string[]; impact?: string };
  injects: { at_minutes: number; text: string; expect?: Expectation[] }[];
}

type Expectation = { kind: string; within_minutes: number; severity?: C.Severity; role?: C.IncidentRole; step?: string };

export interface ScenarioSeed {
  /** The site's scenario files by file name (offered before the built-in one). */
  files?: Record<string, ScenarioFile>;
  /** The site's files refused, in the core's words. */
  problems?: string[];
  /** The drill the charge seed opened runs this file, with these injects already marked seen. */
  running?: { file: string; seen?: number[] };
}

const BUILT_IN = 'ehr-down-mass-casualty.json';
const ROLE_TITLES: Record<C.IncidentRole, string> = { commander: 'Incident commander', liaison: 'Clinical liaison' };
const stamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function describe(e: Expectation, steps: C.ChecklistStep[]): string {
  const what: Record<string, () => string> = {
    severity_at_least: () => `Severity ${e.severity} or higher`,
    decision: () => 'A decision recorded',
    status_update: () => 'A status update kept',
    role: () => `${ROLE_TITLES[e.role ?? 'commander']} named`,
    checklist_step: () => {
      const text = steps.find((s) => s.id === e.step)?.text;
      return `Checklist step ticked: ${text ? text.replace(/\.$/, '') : e.step}`;
    },
    first_entry: () => 'First electronic entry',
    acknowledged: () => 'Inject marked seen',
  };
  return `${(what[e.kind] ?? (() => e.kind))()} (within ${e.within_minutes} min)`;
}

const RANK: Record<C.Severity, number> = { P1: 1, P2: 2, P3: 3, P4: 4 };

export class MemoryScenario {
  private readonly files: [string, ScenarioFile, boolean][];
  private readonly problems: string[];
  private running: { episodeId: string; file: string; scenario: ScenarioFile; seen: Map<number, [string, string]> } | null =
    null;

  constructor(
    private readonly charge: MemoryCharge,
    private readonly who: () => { username: string; role: string } | null,
    seed: ScenarioSeed = {},
  ) {
    const site = Object.entries(seed.files ?? {}).sort(([a], [b]) => a.localeCompare(b));
    this.files = site.map(([name, s]) => [name, s, false] as [string, ScenarioFile, boolean]);
    if (!this.files.some(([name]) => name === BUILT_IN)) this.files.push([BUILT_IN, builtIn as ScenarioFile, true]);
    this.problems = seed.problems ?? [];
    // A drill the charge double's seed opened runs this scenario (the gallery's desk mid-drill).
    const opened = this.charge.openedEpisode();
    const found = seed.running && this.files.find(([name]) => name === seed.running?.file);
    if (seed.running && found && opened) {
      const seen = new Map<number, [string, string]>();
      for (const n of seed.running.seen ?? []) {
        const inject = found[1].injects[n - 1];
        if (inject) seen.set(n, [stamp(opened.startedAt + (inject.at_minutes + 1) * 60_000), 'demo.charge']);
      }
      this.running = { episodeId: opened.id, file: found[0], scenario: found[1], seen };
    }
  }

  private manage(): string {
    const who = this.who();
    if (!who) throw new BackendError('not_signed_in', 'Sign in first.');
    if (who.role !== 'charge') throw new BackendError('forbidden', 'Only a charge nurse may do this.');
    return who.username;
  }

  async drillScenarios(): Promise<S.ScenarioOptions> {
    return {
      scenarios: this.files.map(([file, s, isBuiltIn]) => ({
        file,
        title: s.title,
        description: s.description ?? '',
        injects: s.injects.length,
        builtIn: isBuiltIn,
      })),
      problems: this.problems,
    };
  }

  async startScenarioDrill(file: string, nextUpdateMinutes: number | null): Promise<C.EpisodeStatus | null> {
    this.manage();
    const found = this.files.find(([name]) => name === file);
    if (!found) throw new BackendError('not_found', 'no such scenario is offered on this workstation');
    const d = found[1].declaration ?? {};
    const status = await this.charge.declareEpisode({
      drill: true,
      severity: d.severity ?? null,
      affected: d.affected ?? [],
      impact: d.impact ?? null,
      reason: d.reason ?? `Drill scenario: ${found[1].title}`,
      nextUpdateMinutes,
      beganMinutesAgo: null,
    });
    if (status) this.running = { episodeId: status.episode.id, file, scenario: found[1], seen: new Map() };
    return status;
  }

  async drillScenario(): Promise<S.DrillScenario | null> {
    const status = await this.charge.episodeStatus();
    const r = this.running;
    if (!status || !r || r.episodeId !== status.episode.id) return null;
    const declared = Date.parse(status.episode.startedAt);
    const now = this.charge.now().getTime();
    const arrived = r.scenario.injects
      .map((inject, i) => ({ inject, number: i + 1, at: declared + inject.at_minutes * 60_000 }))
      .filter((x) => x.at <= now);
    const expectations: S.ScenarioExpectation[] = arrived.flatMap(({ inject, number, at }) =>
      (inject.expect ?? []).map((e) => {
        const deadline = at + e.within_minutes * 60_000;
        const metAt = this.metAt(e, number, at, status);
        const outcome: S.ScenarioOutcome =
          metAt !== null && metAt <= deadline ? 'met' : metAt !== null || deadline < now ? 'missed' : 'pending';
        return {
          inject: number,
          what: describe(e, status.steps),
          dueAt: stamp(deadline),
          metAt: metAt === null ? null : stamp(metAt),
          minutes: metAt === null ? null : Math.trunc((metAt - at) / 60_000),
          outcome,
        };
      }),
    );
    const next = r.scenario.injects.map((inj) => declared + inj.at_minutes * 60_000).find((t) => t > now);
    return {
      file: r.file,
      title: r.scenario.title,
      description: r.scenario.description ?? '',
      injects: arrived
        .map(({ inject, number, at }) => ({
          number,
          atMinutes: inject.at_minutes,
          at: stamp(at),
          text: inject.text,
          seenAt: r.seen.get(number)?.[0] ?? null,
          seenBy: r.seen.get(number)?.[1] ?? null,
        }))
        .reverse(),
      nextInjectAt: next === undefined ? null : stamp(next),
      expectations,
      met: expectations.filter((e) => e.outcome === 'met').length,
      total: expectations.length,
    };
  }

  /** When an expectation was met (ms), from the status the charge double shows; at the inject if already true. */
  private metAt(e: Expectation, number: number, at: number, status: C.EpisodeStatus): number | null {
    const after = (times: string[]) => times.map(Date.parse).filter((t) => t >= at).sort((a, b) => a - b)[0] ?? null;
    const since = (t: string | null | undefined) => (t ? Math.max(Date.parse(t), at) : null);
    switch (e.kind) {
      case 'acknowledged':
        return after([this.running?.seen.get(number)?.[0]].filter((t): t is string => !!t));
      case 'decision':
        return after(status.decisions.map((d) => d.at));
      case 'status_update':
        return after(status.updates.map((u) => u.at));
      case 'role':
        return since((e.role === 'liaison' ? status.liaison : status.commander)?.at);
      case 'checklist_step':
        return since(status.steps.find((s) => s.id === e.step)?.doneAt);
      case 'severity_at_least':
        return status.severity && e.severity && RANK[status.severity] <= RANK[e.severity] ? at : null;
      default:
        return null;
    }
  }

  async acknowledgeInject(number: number): Promise<S.DrillScenario | null> {
    const actor = this.manage();
    const s = await this.drillScenario();
    const r = this.running;
    if (!s || !r) throw new BackendError('not_found', 'the open episode is not a drill started from a scenario');
    if (number < 1 || number > r.scenario.injects.length) {
      throw new BackendError('not_found', `the scenario has injects 1 to ${r.scenario.injects.length}, not ${number}`);
    }
    const inject = s.injects.find((i) => i.number === number);
    if (!inject) {
      const declared = this.charge.openedEpisode()?.startedAt ?? 0;
      const arrives = stamp(declared + (r.scenario.injects[number - 1]?.at_minutes ?? 0) * 60_000);
      throw new BackendError('invalid_input', `inject ${number} has not arrived yet (it arrives at ${arrives})`);
    }
    const seen = r.seen.get(number);
    if (seen) throw new BackendError('conflict', `inject ${number} was already marked seen at ${seen[0]} by ${seen[1]}`);
    r.seen.set(number, [stamp(this.charge.now().getTime()), actor]);
    return this.drillScenario();
  }
}
