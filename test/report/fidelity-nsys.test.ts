// Our GIL ranges against nsys's own, on one run: each patched interpreter (3.9.2, 3.11.2) runs the
// 200 ms hold workload under nsys 2024.2 with both `nvtx` and `python-gil`, so the trace holds the
// patch's 'CPython GIL' ranges and nsys's 'GIL Trace' ranges of the same holds. Both must have the
// 200 ms hold and its blocked waiters, neither may have overlapping holds, and the report of that trace
// must analyse one source and say it left the other out. The figures across interpreters and workloads
// are in docs/fidelity.md (bench/report/fidelity.mjs).
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeTrace } from '../../lib/report/analyze.js';
import { compareGilSources, pairRanges, type SourceComparison } from '../../lib/report/compare-sources.js';
import { loadTrace } from '../../lib/report/load.js';
import type { Report } from '../../lib/report/types.js';
import { patchedPythonOrSkip, pythonsToTest } from '../helpers/pythons.js';
import { missingTool, pythonGilNsys } from '../helpers/tools.js';
import { traceUsleepHold } from './helpers.js';

// GIL-enabled minors that nsys 2024.2.3 traces: under --trace=python-gil it recorded no 'GIL Trace'
// domain at all for our 3.13.5 (measured in CI), so 3.13 cannot be compared with that release.
const VERSIONS = (process.env.GIL_NVTX_FIDELITY_PYTHONS ?? '3.9.2,3.11.2').split(',');

describe.each(VERSIONS)('our GIL ranges against nsys\u2019s on a patched CPython %s', (VERSION) => {
  let skip = '';
  let comparison: SourceComparison;
  const reports: Record<'patch' | 'nsys', Report> = {} as Record<'patch' | 'nsys', Report>;
  const tids: Record<string, number> = {};

  beforeAll(async () => {
    const nsys = await pythonGilNsys();
    if (!nsys) return void (skip = missingTool('nsys with --trace=python-gil (2024.2 or newer; scripts/ci/install-nsys-2024.sh)', 'GIL_NVTX_REQUIRE_NSYS'));
    const wanted = pythonsToTest().find((p) => p.version === VERSION && !p.disableGil);
    if (!wanted || wanted.reason) return void (skip = wanted?.reason ?? `CPython ${VERSION} is not in the tested set`);
    const got = await patchedPythonOrSkip(VERSION);
    if ('skip' in got) return void (skip = got.skip);
    const traced = await traceUsleepHold(got.python, nsys, 'gil-nvtx-fidelity-');
    const run = traced.run;
    expect(run.exitCode).toBe(0);
    Object.assign(tids, traced.tids);
    comparison = await compareGilSources(run.sqlite!);
    for (const source of ['patch', 'nsys'] as const) {
      const trace = await loadTrace(run.sqlite!, { gilSource: source });
      try {
        reports[source] = analyzeTrace(trace, { top: 3 });
      } finally {
        trace.close();
      }
    }
  }, 3_600_000);

  it('has the 200 ms hold in both sources, on the thread that slept, and the same hold', (ctx) => {
    if (skip) ctx.skip(skip);
    const longest = comparison.longestHold!;
    for (const source of ['patch', 'nsys'] as const) {
      const hold = longest[source];
      expect(hold.thread.endsWith(`/${tids.holder}`)).toBe(true);
      expect(hold.end - hold.start).toBeGreaterThanOrEqual(150_000_000);
    }
    expect(longest.matched).toBe(true);
  });

  it('finds no overlapping holds in either source', (ctx) => {
    if (skip) ctx.skip(skip);
    expect(comparison.overlaps).toEqual({ patch: 0, nsys: 0 });
    expect(reports.patch.validation.ok).toBe(true);
    expect(reports.nsys.validation.ok).toBe(true);
  });

  it('shows both CPU-bound threads blocked behind the hold in both sources', (ctx) => {
    if (skip) ctx.skip(skip);
    for (const source of ['patch', 'nsys'] as const) {
      const top = reports[source].blame[0]!;
      expect(top.thread.tid, source).toBe(tids.holder);
      for (const role of ['spinner-0', 'spinner-1']) {
        expect(top.waiters.find((w) => w.thread.tid === tids[role])?.blockedNs ?? 0, `${source}: ${role}`).toBeGreaterThanOrEqual(100_000_000);
      }
    }
  });

  it('matches nsys\u2019s holds and waits with ours, and each report leaves the other source out', (ctx) => {
    if (skip) ctx.skip(skip);
    const { holds, waits } = comparison;
    // nsys records only the waits that blocked; ours include those that did not.
    expect(waits.ours).toBeGreaterThan(waits.theirs);
    expect(waits.matched).toBeGreaterThan(0);
    expect(holds.matched).toBeGreaterThan(0);
    expect(holds.matched + holds.oursOnly).toBe(holds.ours);
    expect(holds.matched + holds.theirsOnly).toBe(holds.theirs);
    expect(reports.patch.gilSource!.others).toEqual([expect.objectContaining({ id: 'nsys' })]);
    expect(reports.nsys.gilSource!.others).toEqual([expect.objectContaining({ id: 'patch' })]);
    // The comparison leaves out ranges still open at trace end; the report counts them.
    expect(reports.nsys.validation.checkedHolds).toBeGreaterThanOrEqual(holds.theirs);
    expect(reports.patch.validation.checkedHolds).toBeGreaterThanOrEqual(holds.ours);
  });
});

describe('pairing one thread\u2019s ranges of two sources', () => {
  const r = (start: number, end: number) => ({ start, end });

  it('pairs ranges that are each other\u2019s closest, so a short wait cannot take a long one\u2019s match', () => {
    // Ours: a 1 µs wait that did not block, then the blocked 5 ms one; nsys has only the blocked one.
    const ours = [r(0, 1_000), r(2_000, 5_002_000)];
    const theirs = [r(9_000, 5_004_000)];
    const p = pairRanges(ours, theirs, 1_000_000);
    expect(p.pairs).toEqual([[ours[1], theirs[0]]]);
    expect(p.oursOnly).toEqual([ours[0]]);
    expect(p.theirsOnly).toEqual([]);
  });

  it('leaves ranges unpaired beyond the tolerance, and one range of nsys against two of ours pairs once', () => {
    const ours = [r(0, 4_000_000), r(7_000_000, 7_010_000)];
    const theirs = [r(300, 7_060_000)];
    expect(pairRanges(ours, theirs, 1_000_000)).toEqual({ pairs: [], oursOnly: ours, theirsOnly: theirs });
    expect(pairRanges(ours, theirs, 4_000_000).pairs).toEqual([[ours[0], theirs[0]]]);
  });
});
