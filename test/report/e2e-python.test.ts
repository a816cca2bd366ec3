// A real trace of a patched interpreter running examples/workloads/gil_mix.py
// (a ~200 ms on-CPU C-level hold, a ~200 ms off-CPU hold in usleep, CPU workers, an fdatasync writer),
// recorded by nsys 2022.4 with -t nvtx,osrt. The report must put those holds first, name the threads
// they blocked and their waits, show the holder's state, and list the concurrent OS calls.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nsysProfile } from '../../lib/nsys/run.js';
import { analyzeTrace } from '../../lib/report/analyze.js';
import { formatText } from '../../lib/report/format-text.js';
import { loadTrace } from '../../lib/report/load.js';
import type { Report } from '../../lib/report/types.js';
import { patchedPythonOrSkip, pythonsToTest } from '../helpers/pythons.js';
import { nsysGate } from '../helpers/tools.js';
import { scratch } from './helpers.js';

const WORKLOAD = join(import.meta.dirname, '../../examples/workloads/gil_mix.py');
const VERSION = process.env.GIL_NVTX_REPORT_E2E_PYTHON ?? '3.11.2';

describe.skipIf(nsysGate.skip)(`report on a patched CPython ${VERSION} under nsys`, () => {
  let skip = '';
  let report: Report;
  let text = '';

  beforeAll(async () => {
    // Locally only an interpreter that is already built (or named in GIL_NVTX_TEST_PYTHONS); CI builds it.
    const wanted = pythonsToTest().find((p) => p.version === VERSION && !p.disableGil);
    if (!wanted || wanted.reason) {
      skip = wanted?.reason ?? `CPython ${VERSION} is not in the tested set`;
      return;
    }
    const got = await patchedPythonOrSkip(VERSION);
    if ('skip' in got) {
      skip = got.skip;
      return;
    }
    const dir = scratch('gil-nvtx-e2e-');
    const run = await nsysProfile([got.python, '-u', WORKLOAD, '--seconds', '0.6', '--no-fork', '--no-daemons'], {
      output: join(dir, 'gil_mix'),
      trace: ['nvtx', 'osrt'],
      timeoutSec: 240,
      cwd: dir,
    });
    expect(run.output).toMatch(/main done/);
    const trace = await loadTrace(run.sqlite!);
    try {
      report = analyzeTrace(trace, { top: 5 });
      text = formatText(report);
    } finally {
      trace.close();
    }
  }, 3_600_000);

  it('puts the 200 ms off-CPU hold first, names whom it blocked, and shows the OS calls around it', (ctx) => {
    if (skip) ctx.skip(skip);
    expect(report.validation.ok).toBe(true);
    // Python ≤ 3.11 never releases the GIL at exit: reported as a note, not an error.
    if (/^3\.(9|10|11)\./.test(VERSION)) expect(report.validation.notes.map((n) => n.kind)).toContain('open-final-hold');
    const top = report.blame[0]!;
    // ctypes.PyDLL(None).usleep(200_000) keeps the GIL: the longest hold, spent in usleep.
    expect(top.durationNs).toBeGreaterThan(190_000_000);
    const usleep = top.holderOsCalls!.find((c) => c.name === 'usleep');
    expect(usleep?.overlapNs).toBeGreaterThan(190_000_000);
    // Three CPU workers, the fdatasync writer and the main thread (joining) wanted the GIL meanwhile.
    expect(top.waiterCount).toBeGreaterThanOrEqual(4);
    for (const w of top.waiters) {
      expect(w.thread.name.length).toBeGreaterThan(0);
      expect(w.waitNs).toBeGreaterThanOrEqual(w.blockedNs);
    }
    expect(top.waiters.filter((w) => w.blockedNs > 150_000_000).length).toBeGreaterThanOrEqual(4);
    // Drop requests pile up: the waiters asked every switch interval, the holder was not in bytecode.
    expect(top.dropRequestsDuring).toBeGreaterThan(10);
    // nsys without --cpuctxsw (which hangs 2022.4 here) cannot tell on/off CPU, and the report says so.
    expect(top.holderCpu.state).toBe('unknown');
    expect(top.otherOsCalls).not.toBeNull();
    // The on-CPU hold (sum over a range, calibrated to ~200 ms, shorter on a busy machine) has no usleep.
    const onCpu = report.blame.slice(1).find((b) => b.durationNs > 20_000_000);
    expect(onCpu).toBeDefined();
    expect(onCpu!.holderOsCalls!.some((c) => c.name === 'usleep')).toBe(false);
    expect(text).toMatch(/#1 2\d\d\.\d ms by/);
    expect(text).toMatch(/holder OS calls: usleep/);
  });

  it('says why from what nsys recorded, and where in Python, with the threads by their Python names', (ctx) => {
    if (skip) ctx.skip(skip);
    const top = report.blame[0]!;
    expect(top.thread.name).toBe('main-hold-off-cpu');
    expect(top.why).toMatchObject({ verdict: 'blocked-in-syscall', source: 'osrt' });
    expect(top.why.summary).toMatch(/^holder in usleep 9\d\.\d% of the hold \(OSRT_API\)/);
    expect(top.where.released).toMatchObject({ function: 'hold_off_cpu', file: WORKLOAD });
    expect(text).toMatch(/why: holder in usleep/);
    expect(text).toMatch(/where: .*released in hold_off_cpu\(\) at .*gil_mix\.py:\d+/);
    // The on-CPU hold: no OS call covers it, and without SCHED_EVENTS the report says what it cannot tell.
    const onCpu = report.blame.find((b) => b.thread.name === 'main-hold-on-cpu')!;
    expect(onCpu.why.verdict).toBe('unknown');
    expect(onCpu.why.summary).toMatch(/most likely computing in C holding the GIL; on or off a CPU unknown/);
  });
});
