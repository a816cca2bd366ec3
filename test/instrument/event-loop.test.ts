// instrumentEventLoop(): one range per block of the event loop, and the report's slow requests say how
// long the loop was blocked during them. The fixture blocks its loop with measured synchronous spins
// inside requests; the assertions count blocks and use only the spins' own measurements as lower bounds.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeTrace, formatHtml, formatJson, formatText, loadTrace } from '../../lib/report/index.js';
import { instrumentEventLoop } from '../../lib/index.js';
import { traceCommand } from '../../lib/trace/run.js';
import { nsysGate } from '../helpers/tools.js';
import { ensureCollector, readEvents, scratchDir, type NormalizedEvent } from '../trace/helpers.js';
import { lastJsonLine, nodeUnderNsys } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/event-loop-block.mjs', import.meta.url));
const slowWorkerStart = fileURLToPath(new URL('./fixtures/slow-worker-start.cjs', import.meta.url));

/** Every spin of the fixture is covered by exactly one block range, and none is left open. */
function checkBlocks(output: string, events: NormalizedEvent[]): { spunMs: number[]; spinRanges: NormalizedEvent[]; blocks: (NormalizedEvent & { from: number })[] } {
  const { spins, spunMs } = lastJsonLine<{ spins: number; spunMs: number[] }>(output);
  expect(spunMs).toHaveLength(spins);
  const spinRanges = events.filter((e) => e.domain === 'test:spin' && e.name === 'spin');
  expect(spinRanges).toHaveLength(spins);
  const blocks = events
    .filter((e) => e.domain === 'node:event-loop' && e.eventType === 60)
    .map((e) => ({ ...e, from: e.start - Number(e.payload!.replace(/^i64:/, '')) }));
  for (const b of blocks) {
    expect(b.name).toBe('event loop blocked');
    expect(b.end, 'no block range is left open').not.toBeNull();
    expect(b.category, 'the category is the blocked thread').toBe(spinRanges[0]!.tid);
    expect(b.tid, 'ranges come from the watcher thread').not.toBe(spinRanges[0]!.tid);
  }
  for (const spin of spinRanges) {
    const covering = blocks.filter((b) => b.from <= spin.start && b.end! >= spin.end!);
    expect(covering, `exactly one block covers the spin at ${spin.start}`).toHaveLength(1);
  }
  return { spunMs, spinRanges, blocks };
}

describe('instrumentEventLoop', () => {
  it.skipIf(nsysGate.skip)('under nsys profile --trace=nvtx: one range per block, covering it', async () => {
    const run = await nodeUnderNsys(fixture, ['3'], 'loop');
    checkBlocks(run.output, readEvents(run.sqlite));
  }, 400_000);

  it('a watcher slow to start (a busy machine) still sees the first block: instrumentEventLoop() returns once it watches', async () => {
    const result = await traceCommand([process.execPath, '--require', slowWorkerStart, fixture, '1'], { outDir: scratchDir('loop-slow'), collector: ensureCollector(), stdio: 'pipe' });
    expect(result.exitCode, result.output).toBe(0);
    checkBlocks(result.output, readEvents(result.database));
  });

  it('rejects a bad threshold with one clear TypeError or RangeError', () => {
    expect(() => instrumentEventLoop({ thresholdMs: '5' as unknown as number })).toThrow(/argument 0 \(options\.thresholdMs\) must be a number/);
    expect(() => instrumentEventLoop({ thresholdMs: 0 })).toThrow(RangeError);
    expect(() => instrumentEventLoop({ thresholdMs: Number.NaN })).toThrow(RangeError);
  });

  it('one range per block, covering it; slow requests report the time the loop was blocked', async () => {
    const result = await traceCommand([process.execPath, fixture, '3'], { outDir: scratchDir('loop'), collector: ensureCollector(), stdio: 'pipe' });
    expect(result.exitCode, result.output).toBe(0);
    const { spunMs, spinRanges, blocks } = checkBlocks(result.output, readEvents(result.database));

    const trace = await loadTrace(result.database, { requireGil: false });
    try {
      const report = analyzeTrace(trace);
      expect(report.slowRanges.length).toBeGreaterThan(0);
      expect(report.slowRanges.filter((r) => r.domain === 'node:event-loop')).toEqual([]);
      const spinRequests = report.slowRanges.filter((r) => r.name === 'GET /spin');
      expect(spinRequests.length).toBeGreaterThan(0);
      for (const r of spinRequests) {
        const i = spinRanges.findIndex((s) => s.start >= r.startNs && s.end! <= r.endNs);
        expect(i).toBeGreaterThanOrEqual(0);
        // Every block range of the trace that overlaps the request, and only those: on a loaded machine
        // the loop can also stall (starved of a CPU) beside the spin, which is a block of its own.
        const overlapping = blocks.filter((b) => Math.min(b.end!, r.endNs) - Math.max(b.from, r.startNs) > 0);
        expect(overlapping.length).toBeGreaterThanOrEqual(1);
        expect(r.eventLoop!.blocks).toBe(overlapping.length);
        expect(r.eventLoop!.blockedNs).toBeGreaterThanOrEqual(spunMs[i]! * 1e6);
      }
      expect(formatText(report)).toMatch(/Node event loop blocked \d+(\.\d+)? ms during it \(\d+ blocks?\)/);
      expect(formatHtml(trace, report)).toContain('Node event loop blocked');
      expect((JSON.parse(formatJson(report)) as typeof report).slowRanges[0]!.eventLoop).not.toBeNull();
    } finally {
      trace.close();
    }
  });
});
