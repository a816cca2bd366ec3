// The mixed example (a Node HTTP front end handing requests to patched-Python
// worker processes) profiled with `gil-nvtx profile` under real nsys. N requests give exactly N request
// ranges on the Node process, every worker process has GIL ranges, and the report ties the slowest
// requests to the GIL holds that were in progress during them, and to the worker thread that served each
// (checked against the workers' own log of who ran which job).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Report, ServedBy } from '../../lib/report/types.js';
import { patchedPythonOrSkip } from '../helpers/pythons.js';
import { nsysGate } from '../helpers/tools.js';
import { scratch } from '../report/helpers.js';
import { everyRequestServedBy, expectEveryJobFound, expectJobFlows, expectSentences, expectServedByMatchesWorkers, expectStallFound, readServedLog, slowRequests, type ServedLine } from './served-by.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REQUESTS = 30;
const WORKERS = 2;
const VERSION = process.env.GIL_NVTX_MIXED_E2E_PYTHON ?? '3.11.2';

describe.skipIf(nsysGate.skip)(`mixed Node + patched CPython ${VERSION} service under gil-nvtx profile`, () => {
  let skip = '';
  let report: Report;
  let sqlite = '';
  let stdout = ''; // the profiled program's output
  let served: ServedLine[] = [];
  let everyRequest: ServedBy[] = [];
  let text = '';
  let html = '';

  beforeAll(async () => {
    const got = await patchedPythonOrSkip(VERSION);
    if ('skip' in got) {
      skip = got.skip;
      return;
    }
    const dir = scratch('gil-nvtx-mixed-');
    const out = join(dir, 'mixed');
    const log = join(dir, 'served.jsonl');
    const r = spawnSync(
      process.execPath,
      [join(ROOT, 'bin/gil-nvtx.js'), 'profile', '-o', out, '--json', '--top', '5', '--timeout', '300', '--',
        process.execPath, join(ROOT, 'examples/mixed/run.mjs'), '--python', got.python,
        '--requests', String(REQUESTS), '--workers', String(WORKERS), '--json', '--served-log', log],
      // Not quiet: the program's own output (and nsys's) goes to stderr; stdout carries only the report.
      { encoding: 'utf8', env: { ...process.env, CI: 'false' }, maxBuffer: 64 << 20 },
    );
    expect(r.status, r.stderr).toBe(0);
    stdout = r.stderr;
    report = JSON.parse(r.stdout) as Report;
    sqlite = `${out}.sqlite`;
    served = readServedLog(log);
    everyRequest = await everyRequestServedBy(sqlite);
    // The same export as text and HTML, as `gil-nvtx report` prints them.
    const rep = spawnSync(process.execPath, [join(ROOT, 'bin/gil-nvtx.js'), 'report', sqlite, '--no-color', '--top', '5', '--html', join(dir, 'report.html')], {
      encoding: 'utf8',
      cwd: ROOT,
      env: { ...process.env, CI: 'true' },
    });
    expect(rep.status, rep.stderr).toBe(0);
    text = rep.stdout;
    html = readFileSync(join(dir, 'report.html'), 'utf8');
  }, 3_600_000);

  it('records exactly one server and one client range per request on the Node process', (ctx) => {
    if (skip) ctx.skip(skip);
    expect(stdout).toContain(`"requests":${REQUESTS},"failed":0`);
    const db = new Database(sqlite, { readonly: true });
    try {
      const rows = db
        .prepare(
          `SELECT COALESCE(s.value, e.text) AS name, (e.globalTid >> 24) & 16777215 AS pid
             FROM NVTX_EVENTS e LEFT JOIN StringIds s ON s.id = e.textId
             JOIN NVTX_EVENTS d ON d.eventType = 75 AND d.domainId = e.domainId
              AND ((d.globalTid >> 24) & 16777215) = ((e.globalTid >> 24) & 16777215)
            WHERE e.eventType = 60 AND d.text = 'mixed: http' AND e.end IS NOT NULL`,
        )
        .all() as { name: string; pid: number }[];
      const server = rows.filter((r) => /^GET \/(predict|report|ingest)$/.test(r.name));
      const client = rows.filter((r) => /^GET 127\.0\.0\.1\//.test(r.name));
      expect(server).toHaveLength(REQUESTS);
      expect(client).toHaveLength(REQUESTS);
      expect(new Set(rows.map((r) => r.pid)).size).toBe(1);
    } finally {
      db.close();
    }
  });

  it('has GIL ranges from every Python worker process, and they never overlap', (ctx) => {
    if (skip) ctx.skip(skip);
    expect(report.validation.ok).toBe(true);
    const gilPids = new Set(report.gils.map((g) => g.pid));
    expect(gilPids.size).toBe(WORKERS);
    for (const g of report.gils) expect(g.holds.count).toBeGreaterThan(0);
  });

  it('ties the slowest requests to the GIL holds in progress during them', (ctx) => {
    if (skip) ctx.skip(skip);
    const requests = report.slowRanges.filter((r) => r.domain === 'mixed: http' && r.name.startsWith('GET /'));
    expect(requests.length).toBeGreaterThan(0);
    // Every fifth /predict meets a C call that sleeps 200 ms holding its worker's GIL. On a loaded
    // machine another request can be the slowest of all, so the one tied to that hold is looked up
    // among the slowest listed, and it must be one of them.
    expect(requests[0]!.durationNs).toBeGreaterThan(150_000_000);
    const slowest = requests.find((r) => (r.holds[0]?.durationNs ?? 0) > 150_000_000);
    expect(slowest, 'a slow request tied to the 200 ms hold').toBeDefined();
    expect(slowest!.durationNs).toBeGreaterThan(150_000_000);
    const [hold] = slowest!.holds;
    expect(hold!.overlapNs).toBeGreaterThan(100_000_000);
    expect([...new Set(report.gils.map((g) => g.pid))]).toContain(hold!.pid);
    expect(slowest!.gilHeldNs).toBeGreaterThanOrEqual(hold!.overlapNs);
  });

  it('names the worker process and thread that ran each job of a slow request, and the hold that stalled one', (ctx) => {
    if (skip) ctx.skip(skip);
    const entries = expectServedByMatchesWorkers(report, served);
    expectEveryJobFound(everyRequest, served);
    expectStallFound(everyRequest, served);
    expectSentences(text, html, entries);
  });

  it('draws each job in the Perfetto export with a flow arrow from the Node range that sent it', async (ctx) => {
    if (skip) ctx.skip(skip);
    await expectJobFlows(sqlite, served);
  });
});
