// The mixed example traced by the gil-nvtx collector (`gil-nvtx trace`): a slow request is followed from
// the Node request, through the job it sent, to the worker process and thread that ran it and the GIL
// hold that stalled it, in the report's JSON, text and HTML; the workers' own log says who really ran
// each job.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Report, ServedBy } from '../../lib/report/types.js';
import { patchedPythonOrSkip } from '../helpers/pythons.js';
import { scratch } from '../report/helpers.js';
import { ensureCollector } from '../trace/helpers.js';
import { everyRequestServedBy, expectEveryJobFound, expectJobFlows, expectSentences, expectServedByMatchesWorkers, expectStallFound, readServedLog, slowRequests, type ServedLine } from './served-by.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const CLI = join(ROOT, 'bin/gil-nvtx.js');
const VERSION = '3.11.2';

describe('mixed Node + patched CPython service under the collector: who served the slow requests', () => {
  let skip = '';
  let report: Report;
  let text = '';
  let html = '';
  let served: ServedLine[] = [];
  let everyRequest: ServedBy[] = [];
  let tracePath = '';

  beforeAll(async () => {
    const got = await patchedPythonOrSkip(VERSION);
    if ('skip' in got) {
      skip = got.skip;
      return;
    }
    ensureCollector();
    const dir = scratch('gil-nvtx-mixed-collector-');
    const log = join(dir, 'served.jsonl');
    // One worker: a job queued behind another thread's 200 ms stall waits for that worker's GIL.
    const run = spawnSync(
      process.execPath,
      [CLI, 'trace', '-q', '-o', join(dir, 'trace'), '--', process.execPath, join(ROOT, 'examples/mixed/run.mjs'),
        '--python', got.python, '--requests', '30', '--workers', '1', '--json', '--served-log', log],
      { encoding: 'utf8', cwd: ROOT, env: { ...process.env, CI: 'true' }, timeout: 120_000 },
    );
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('"requests":30,"failed":0');
    const rep = (...args: string[]) => spawnSync(process.execPath, [CLI, 'report', join(dir, 'trace'), '--no-color', ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, CI: 'true' } });
    const json = rep('--json');
    expect(json.status, json.stderr).toBe(0);
    report = JSON.parse(json.stdout) as Report;
    const t = rep('--html', join(dir, 'report.html'));
    expect(t.status, t.stderr).toBe(0);
    text = t.stdout;
    html = readFileSync(join(dir, 'report.html'), 'utf8');
    served = readServedLog(log);
    tracePath = join(dir, 'trace');
    everyRequest = await everyRequestServedBy(tracePath);
  }, 300_000);

  it('names the worker process and thread that actually ran each job of a slow request', (ctx) => {
    if (skip) ctx.skip(skip);
    expect(served.length).toBeGreaterThanOrEqual(30);
    expectServedByMatchesWorkers(report, served);
    // Every request of the run, not only the slowest: each job found once, on the thread that ran it.
    expectEveryJobFound(everyRequest, served);
  });

  it('traces a slow request to the hold that stalled it, and where in worker.py the holder was', (ctx) => {
    if (skip) ctx.skip(skip);
    expectStallFound(everyRequest, served);
  });

  it('draws each job in the Perfetto export with a flow arrow from the Node range that sent it', async (ctx) => {
    if (skip) ctx.skip(skip);
    await expectJobFlows(tracePath, served);
  });

  it('says so in the text and the HTML report', (ctx) => {
    if (skip) ctx.skip(skip);
    expectSentences(text, html, slowRequests(report).flatMap((r) => r.servedBy ?? []));
  });

  it('leaves ranges that sent no job without a served-by answer', (ctx) => {
    if (skip) ctx.skip(skip);
    // The load generator's client ranges are not the parents of the server's requests.
    const clients = report.slowRanges.filter((r) => r.name.startsWith('GET 127.0.0.1/'));
    for (const r of clients) expect(r.servedBy).toEqual([]);
  });
});
