// The forms contract, the screen's side (issue 18 item 4): every case of tests/contract/forms.json (a form, a
// response, the linkIds with an error) is loaded into the form screen's answers as an amendment would load it
// (`fromResponse`), then checked by what the screen checks before it asks the core: the conversion of each field
// (`toResponse`'s local problems) and `screenFindings`. The screen must find exactly the case's errors, less those the
// case says the screen leaves to the core (with why). The core runs the same file (tests/it/forms_contract.rs).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fromResponse, screenFindings, toResponse, type Questionnaire } from './questionnaire';
import { derive } from './expressions';

const ROOT = resolve(__dirname, '../../../..');

interface Case {
  name: string;
  form: string;
  response: { subject?: unknown };
  errors: string[];
  screen_leaves_to_core?: Record<string, string>;
}

const doc = JSON.parse(readFileSync(resolve(ROOT, 'tests/contract/forms.json'), 'utf8')) as { cases: Case[] };
const PATIENT = { mrn: 'DEV2001', mrnSystem: 'urn:oid:2.16.840.1.113883.19.5', name: 'GARCIA, Elena' };

describe('the forms contract on the form screen', () => {
  it('holds at least twenty cases, each with its reason where the screen leaves an error to the core', () => {
    expect(doc.cases.length).toBeGreaterThanOrEqual(20);
    for (const c of doc.cases) {
      for (const [linkId, why] of Object.entries(c.screen_leaves_to_core ?? {})) {
        expect(c.errors, `${c.name}: ${linkId} is left to the core but is not an error of the case`).toContain(linkId);
        expect(why.length, `${c.name}: say why the screen leaves ${linkId} to the core`).toBeGreaterThan(20);
      }
    }
  });

  for (const c of doc.cases) {
    it(c.name, () => {
      const form = JSON.parse(readFileSync(resolve(ROOT, c.form), 'utf8')) as Questionnaire;
      const answers = fromResponse(form, c.response);
      const computed = derive(form, answers, {});
      const { problems } = toResponse(form, answers, PATIENT, null, computed.disabled);
      const found = new Set([...Object.keys(problems), ...Object.keys(screenFindings(form, answers, computed.disabled, computed.allowed))]);
      const left = new Set(Object.keys(c.screen_leaves_to_core ?? {}));
      const want = c.errors.filter((linkId) => !left.has(linkId)).sort();
      expect([...found].sort()).toEqual(want);
    });
  }
});
