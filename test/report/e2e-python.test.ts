// Done-when of issue 5: a real trace of a patched interpreter running examples/workloads/gil_mix.py
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

  it('puts the two ~200 ms holds first and explains them', (ctx) => {
    if (skip) ctx.skip(skip);
    expect(report.validation.ok).toBe(true);
    // Python ≤ 3.11 never releases the GIL at exit: reported as a note, not an error.
    if (/^3\.(9|10|11)\./.test(VERSION)) expect(report.validation.notes.map((n) => n.kind)).toContain('open-final-hold');
    const [first, second] = report.blame;
    for (const b of [first!, second!]) {
      expect(b.durationNs).toBeGreaterThan(120_000_000);
      // Three CPU workers, the fdatasync writer and the main thread (joining) want the GIL meanwhile.
      expect(b.waiterCount).toBeGreaterThanOrEqual(3);
      for (const w of b.waiters) expect(w.thread.name.length).toBeGreaterThan(0);
      expect(b.holderOsCalls).not.toBeNull();
      expect(b.otherOsCalls).not.toBeNull();
    }
    // Everything else is far shorter than the planted holds.
    expect(report.blame[2]!.durationNs).toBeLessThan(second!.durationNs / 2);
    // The off-CPU one sleeps in usleep while holding the GIL; the on-CPU one (sum over a range) makes no OS call.
    const offCpu = [first!, second!].find((b) => b.holderOsCalls!.some((c) => c.name === 'usleep'));
    expect(offCpu).toBeDefined();
    expect(offCpu!.holderOsCalls!.find((c) => c.name === 'usleep')!.overlapNs).toBeGreaterThan(100_000_000);
    // The writer thread's fdatasync calls appear in the trace's OS calls during the contended phase.
    expect(text).toMatch(/#1 /);
    expect(text).toMatch(/blocked \d+ threads/);
  });
});
