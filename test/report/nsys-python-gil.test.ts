// nsys 2024.2's own GIL trace of an unpatched CPython (`--trace=python-gil`): one thread holds the GIL
// for 200 ms in a C call while two CPU-bound threads want it (test-support/programs/usleep_hold.py). The
// report must read the 'GIL Trace' domain as its GIL source and find that hold, the threads it blocked,
// and no two holds overlapping. nsys 2022.4 cannot record this trace; the 2022.4 tests keep running the
// default nsys (the first on PATH), this one looks for an nsys that takes --trace=python-gil.
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveRealExecutable } from '../../lib/nsys/executable.js';
import { inspectPython } from '../../lib/python/inspect.js';
import { analyzeTrace } from '../../lib/report/analyze.js';
import { formatHtml } from '../../lib/report/format-html.js';
import { formatText } from '../../lib/report/format-text.js';
import { writePerfetto } from '../../lib/report/format-perfetto.js';
import { loadTrace } from '../../lib/report/load.js';
import type { Report } from '../../lib/report/types.js';
import { missingTool, pythonGilNsys } from '../helpers/tools.js';
import { scratch, traceUsleepHold } from './helpers.js';

const WORKLOAD = join(import.meta.dirname, '../../test-support/programs/usleep_hold.py');
const REQUIRE = 'GIL_NVTX_REQUIRE_NSYS';

/** Debian's python3, else the real executable behind `python3` on PATH (a pyenv shim resolved). */
async function stockPython(): Promise<string | null> {
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    if (candidate.startsWith('/') && !existsSync(candidate)) continue;
    try {
      const exe = resolveRealExecutable(candidate);
      const info = await inspectPython(exe);
      if (!info.patched && !info.freeThreaded) return exe;
    } catch {
      /* try the next one */
    }
  }
  return null;
}

describe('report on nsys 2024.2\u2019s own GIL trace of a stock CPython', () => {
  let skip = '';
  let report: Report;
  let text = '';
  let html = '';
  let perfettoHolds = 0;
  let sqlite = '';
  let rep = '';
  let nsysUsed = '';
  const tids: Record<string, number> = {};

  beforeAll(async () => {
    const nsys = await pythonGilNsys();
    if (!nsys) return void (skip = missingTool('nsys with --trace=python-gil (2024.2 or newer; scripts/ci/install-nsys-2024.sh)', REQUIRE));
    const python = await stockPython();
    if (!python) return void (skip = missingTool('an unpatched python3 (Debian package python3)', REQUIRE));
    const traced = await traceUsleepHold(python, nsys, 'gil-nvtx-python-gil-');
    const run = traced.run;
    expect(run.exitCode).toBe(0);
    Object.assign(tids, traced.tids);
    sqlite = run.sqlite!;
    rep = run.report;
    nsysUsed = nsys;
    const trace = await loadTrace(sqlite);
    try {
      report = analyzeTrace(trace, { top: 5 });
      text = formatText(report);
      html = formatHtml(trace, report);
      const out = join(dirname(sqlite), 'perfetto.json');
      writePerfetto(trace, out);
      perfettoHolds = (JSON.parse(readFileSync(out, 'utf8')).traceEvents as { ph: string; name: string }[]).filter((e) => e.ph === 'X' && e.name === 'Holding GIL').length;
    } finally {
      trace.close();
    }
  }, 600_000);

  it('takes the ranges from the \u2018GIL Trace\u2019 domain and says so', (ctx) => {
    if (skip) ctx.skip(skip);
    expect(report.producer.name).toBe('nsys');
    expect(report.producer.version).toMatch(/^20(2[4-9]|[3-9]\d)\./);
    expect(report.gilSource).toMatchObject({ id: 'nsys', domain: 'GIL Trace', others: [] });
    expect(text).toMatch(/GIL ranges from nsys --trace=python-gil \(NVTX domain 'GIL Trace'\)/);
    expect(text).toMatch(/\n\s+- waits that did not block: /);
    expect(html).toContain('GIL Trace');
  });

  it('finds no two holds overlapping, and neither does a plain SQL check of the export', (ctx) => {
    if (skip) ctx.skip(skip);
    expect(report.validation.ok).toBe(true);
    expect(report.validation.violationCount).toBe(0);
    expect(report.gils).toHaveLength(1);
    const db = new Database(sqlite, { readonly: true });
    try {
      const holds = db
        .prepare(
          `SELECT e.start, e.end FROM NVTX_EVENTS e JOIN NVTX_EVENTS d ON d.eventType = 75 AND d.domainId = e.domainId AND d.text = 'GIL Trace'
           JOIN StringIds s ON s.id = e.textId WHERE e.eventType = 59 AND s.value = 'Holding GIL' ORDER BY e.start`,
        )
        .raw(true)
        .all() as [number, number][];
      expect(holds.length).toBe(report.validation.checkedHolds);
      let reach = -Infinity;
      for (const [start, end] of holds) {
        expect(start).toBeGreaterThanOrEqual(reach);
        reach = Math.max(reach, end);
      }
      expect(perfettoHolds).toBe(holds.length);
    } finally {
      db.close();
    }
  });

  it('puts the 200 ms hold first, on the thread that slept, with both CPU-bound threads blocked behind it', (ctx) => {
    if (skip) ctx.skip(skip);
    const top = report.blame[0]!;
    expect(top.thread.tid).toBe(tids.holder);
    expect(top.durationNs).toBeGreaterThanOrEqual(150_000_000);
    expect(top.holderOsCalls!.map((c) => c.name)).toContain('usleep');
    for (const role of ['spinner-0', 'spinner-1']) {
      const waiter = top.waiters.find((w) => w.thread.tid === tids[role]);
      expect(waiter, `${role} waited during the hold`).toBeDefined();
      expect(waiter!.blockedNs).toBeGreaterThanOrEqual(100_000_000);
    }
    const gil = report.gils[0]!;
    expect(gil.holds.maxNs).toBe(top.durationNs);
    // nsys records a wait only when the acquisition blocked: far fewer waits than holds.
    expect(gil.waits.count).toBeGreaterThanOrEqual(2);
    expect(gil.waits.count).toBeLessThan(gil.holds.count);
  });

  it('reads the .nsys-rep itself, exported by the nsys that --nsys names', (ctx) => {
    if (skip) ctx.skip(skip);
    const cli = join(import.meta.dirname, '../../bin/gil-nvtx.js');
    const r = spawnSync(process.execPath, [cli, 'report', rep, '--nsys', nsysUsed, '--json', '--quiet'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const fromRep = JSON.parse(r.stdout) as Report;
    expect(fromRep.gilSource!.id).toBe('nsys');
    expect(fromRep.validation.checkedHolds).toBe(report.validation.checkedHolds);
    expect(fromRep.blame[0]!.durationNs).toBe(report.blame[0]!.durationNs);
  });

  it('gil-nvtx profile --python-gil records and reports the same from the command line', { timeout: 300_000 }, async (ctx) => {
    if (skip) ctx.skip(skip);
    const python = (await stockPython())!;
    const dir = scratch('gil-nvtx-profile-python-gil-');
    const cli = join(import.meta.dirname, '../../bin/gil-nvtx.js');
    const r = spawnSync(
      process.execPath,
      [cli, 'profile', '--python-gil', '--nsys', nsysUsed, '-o', join(dir, 'p'), '--json', '--quiet', '--', python, '-u', WORKLOAD, join(dir, 'threads.txt')],
      { encoding: 'utf8', cwd: dir },
    );
    expect(r.status, r.stderr).toBe(0);
    const profiled = JSON.parse(r.stdout) as Report;
    expect(profiled.gilSource!.id).toBe('nsys');
    expect(profiled.validation.ok).toBe(true);
    expect(profiled.blame[0]!.durationNs).toBeGreaterThanOrEqual(150_000_000);
  });
});
