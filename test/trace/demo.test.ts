import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../lib/cli/main.js';
import type { BlamedHold } from '../../lib/report/types.js';
import { runDemo, type DemoResult } from '../../lib/trace/demo.js';
import { patchedPythonOrSkip } from '../helpers/pythons.js';
import { nsysGate } from '../helpers/tools.js';
import { ensureCollector, scratchDir } from './helpers.js';

const MS = 1_000_000;

describe('gil-nvtx demo: bad input', () => {
  it('rejects --nsys with --collector, and an interpreter that is not patched', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const both = await main(['demo', '--nsys', '--collector']);
    const unpatched = await main(['demo', '--collector', '--python', '/bin/true', '-o', scratchDir('demo-bad')]);
    const text = err.mock.calls.map((c) => String(c[0])).join('');
    err.mockRestore();
    expect(both).toBe(2);
    expect(unpatched).toBe(2);
    expect(text).toContain('--nsys and --collector exclude each other');
    expect(text).toContain('/bin/true is not a gil-nvtx patched interpreter');
  });
});

// The quick start, end to end, on the patched 3.11.2 (Debian bookworm's, via apt-get source).
const patched = await patchedPythonOrSkip('3.11.2');

/**
 * The two stalls of examples/workloads/gil_stall.py: `offCpu` (usleep through ctypes.PyDLL, 200 ms)
 * is picked by `isOffCpu`; `onCpu` is the other long hold of the same thread (sum over a range,
 * calibrated to ~200 ms of CPU; on a shared VM the calibration can be off by some, hence >= 100 ms).
 */
function stalls(r: DemoResult, isOffCpu: (h: BlamedHold) => boolean) {
  expect(existsSync(r.html)).toBe(true);
  expect(existsSync(r.perfetto)).toBe(true);
  expect(r.report.validation).toMatchObject({ ok: true });
  const seen = r.report.blame
    .map((h) => `${(h.durationNs / MS).toFixed(0)} ms tid ${h.thread.tid} ${h.thread.name} cpu ${h.holderCpu.state} ${h.holderCpu.onCpuFraction?.toFixed(3)} waiters ${h.waiterCount}`)
    .join('\n');
  const offCpu = r.report.blame.find((h) => h.durationNs >= 190 * MS && isOffCpu(h));
  expect(offCpu, `the 200 ms off-CPU hold among:\n${seen}`).toBeDefined();
  const onCpu = r.report.blame.find((h) => h !== offCpu && h.thread.tid === offCpu!.thread.tid && h.durationNs >= 100 * MS);
  expect(onCpu, `the ~200 ms on-CPU hold of the same thread among:\n${seen}`).toBeDefined();
  // The four request threads and the writer wait behind both.
  expect(offCpu!.waiterCount).toBeGreaterThanOrEqual(4);
  expect(onCpu!.waiterCount).toBeGreaterThanOrEqual(4);
  return { offCpu: offCpu!, onCpu: onCpu! };
}

describe.skipIf('skip' in patched)('gil-nvtx demo end to end', () => {
  beforeAll(() => {
    process.env.GIL_NVTX_COLLECTOR = ensureCollector();
  }, 300_000);

  it('with the collector: finds the off-CPU and the on-CPU 200 ms holds and says why, from the watchdog', async () => {
    const r = await runDemo({ python: (patched as { python: string }).python, tool: 'collector', outDir: scratchDir('demo-collector'), quiet: true });
    expect(r.tool).toBe('collector');
    expect(r.trace).toMatch(/trace\.sqlite$/);
    const { offCpu, onCpu } = stalls(r, (h) => h.holderCpu.state === 'off-cpu');
    expect(offCpu.holderCpu).toMatchObject({ source: 'watchdog-samples' });
    // usleep through ctypes.PyDLL: asleep in the kernel, holding the GIL.
    expect(offCpu.holder?.verdict).toBe('blocked-in-syscall');
    expect(['clock_nanosleep', 'nanosleep']).toContain(offCpu.holder!.syscalls[0]!.name);
    // The workload names its OS threads late (prctl); the collector re-reads names when threads end.
    expect(offCpu.thread.name).toBe('bad-c-call');
    expect(offCpu.waiters.map((w) => w.thread.name)).toEqual(expect.arrayContaining(['request-0', 'request-1', 'request-2', 'request-3']));
    expect(offCpu.holderCpu.onCpuFraction!).toBeLessThan(0.05);
    expect(onCpu.holderCpu.source).toBe('watchdog-samples');
    expect(['on-cpu', 'waiting-for-cpu']).toContain(onCpu.holder?.verdict);
    // On a busy machine the spinning holder is preempted too, but it is on CPU far more than the sleeper.
    expect(onCpu.holderCpu.onCpuFraction!).toBeGreaterThan(10 * offCpu.holderCpu.onCpuFraction!);
  }, 600_000);

  it.skipIf(nsysGate.skip)('with nsys (-t nvtx,osrt): the same stalls, the off-CPU one inside usleep', { timeout: 600_000 }, async () => {
    const r = await runDemo({ python: (patched as { python: string }).python, tool: 'nsys', outDir: scratchDir('demo-nsys'), quiet: true });
    expect(r.tool).toBe('nsys');
    stalls(r, (h) => (h.holderOsCalls ?? []).some((c) => /sleep/.test(c.name) && c.durationNs >= 150 * MS));
  });
});
