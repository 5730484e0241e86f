// The FHIRPath contract, the screen's side: every case of tests/contract/fhirpath.json is evaluated with fhirpath.js
// as the form screen evaluates SDC expressions (`evaluateFhirPath`, with SDC's answers() added), and must give the
// collection the core gives (tests/it/fhirpath_contract.rs runs the same file against the core's engine). So a score,
// a BMI or a question shown only when another answer says so is the same on the screen as in what the core records.
//
// Where fhirpath.js departs from the FHIRPath specification the case's name says so (it contains "fhirpath.js") and
// its `expected` follows the specification; such a case must still differ here, so that the file's list of
// departures stays true when fhirpath.js changes.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { evaluateFhirPath } from './expressions';

const ROOT = resolve(__dirname, '../../../..');

interface Case {
  name: string;
  resource: Record<string, unknown>;
  questionnaire?: Record<string, unknown>;
  patient?: Record<string, unknown>;
  user?: Record<string, unknown>;
  variables?: Record<string, unknown>;
  expression: string;
  expected: unknown[];
}

const cases = JSON.parse(readFileSync(resolve(ROOT, 'tests/contract/fhirpath.json'), 'utf8')) as Case[];

/** JSON equality with numbers compared by value (fhirpath.js writes 70 for a decimal 70.0), as the core's test does. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) < 1e-9;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return (
      same(ka, kb) &&
      ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  return a === b;
}

function run(c: Case): unknown[] | string {
  const env: Record<string, unknown> = { resource: c.resource, context: c.resource, ...(c.variables ?? {}) };
  if (c.questionnaire) env.questionnaire = c.questionnaire;
  if (c.patient) env.patient = c.patient;
  if (c.user) env.user = c.user;
  try {
    // Plain JSON values, as the screen writes a calculated answer.
    return JSON.parse(JSON.stringify(evaluateFhirPath(c.resource, c.expression, env))) as unknown[];
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

describe('the FHIRPath contract on fhirpath.js (the form screen)', () => {
  it('holds the cases the core holds', () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
  });

  for (const c of cases) {
    const departure = c.name.includes('fhirpath.js');
    it(c.name, () => {
      const got = run(c);
      if (departure) {
        expect(same(got, c.expected), `fhirpath.js now gives what the spec says; rename the case`).toBe(false);
      } else {
        expect(same(got, c.expected), `${c.expression}: got ${JSON.stringify(got)}`).toBe(true);
      }
    });
  }
});
