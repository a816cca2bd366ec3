import { copyFileSync, mkdirSync, openSync, readdirSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeTrace } from '../../lib/trace/merge.js';
import { HeaderOffset, RAW_FORMAT_VERSION } from '../../lib/trace/raw-format.js';
import { TickConverter } from '../../lib/trace/ticks.js';
import { ensureCollector, ensureEventsProgram, queryAll, readEvents, runWithCollector, scratchDir } from './helpers.js';

let program: string;

beforeAll(() => {
  ensureCollector();
  program = ensureEventsProgram();
}, 300_000);

interface Stamp {
  step: number;
  role: string;
  before: number;
  after: number;
}

/** Runs the "stamps" scenario: marks `step-N` taken in a known order by the main thread, a second
 * thread and two fork children (one ends with _exit), each between two CLOCK_MONOTONIC reads the
 * program prints itself. */
function traceStamps(clock: 'tsc' | 'monotonic') {
  const dir = scratchDir(`stamps-${clock}`);
  const rawDir = join(dir, 'raw');
  const run = runWithCollector([program, 'stamps'], rawDir, { GIL_NVTX_COLLECTOR_CLOCK: clock });
  expect(run.status, run.stderr).toBe(0);
  const stamps: Stamp[] = run.stdout
    .split('\n')
    .filter((l) => l.startsWith('stamp '))
    .map((l) => {
      const [, step, role, before, after] = l.split(' ');
      return { step: Number(step), role: role!, before: Number(before), after: Number(after) };
    })
    .sort((a, b) => a.step - b.step);
  const db = join(dir, 'trace.sqlite');
  const summary = mergeTrace(rawDir, db);
  const marks = readEvents(db).filter((e) => e.eventType === 34 && e.name?.startsWith('step-'));
  return { run, rawDir, db, summary, stamps, marks };
}

// Conversion error bound for TSC stamps: a calibration pair is the narrowest of four rdtsc/clock
// reads, so it is off by tens of ns unless all four were preempted on this loaded machine; the steps
// are >= 3 ms apart, so the bound still proves order and placement.
const TSC_TOLERANCE_NS = 200_000;

describe('collector timestamps: CLOCK_MONOTONIC in the trace whatever the collector read', () => {
  for (const clock of ['tsc', 'monotonic'] as const) {
    it(`${clock}: marks from two threads and two fork children land between the program's own CLOCK_MONOTONIC reads, in order`, () => {
      const { run, db, summary, stamps, marks } = traceStamps(clock);
      expect(stamps.map((s) => s.step)).toEqual([...Array(11).keys()]);
      expect(summary.processes).toBe(3);
      expect(summary.withoutCleanExit).toHaveLength(1); // the child that called _exit
      const expectedSource = clock === 'tsc' && process.arch === 'x64' ? 'tsc' : 'clock_gettime';
      const meta = Object.fromEntries(queryAll<{ key: string; value: string }>(db, 'SELECT key, value FROM GILNVTX_META').map((r) => [r.key, r.value]));
      expect(meta).toMatchObject({ clock: 'CLOCK_MONOTONIC', timestampSource: expectedSource });

      expect(marks.map((m) => m.name)).toEqual(stamps.map((s) => `step-${s.step}`)); // sorted by start = true order
      const tolerance = expectedSource === 'tsc' ? TSC_TOLERANCE_NS : 0;
      for (const s of stamps) {
        const m = marks.find((e) => e.name === `step-${s.step}`)!;
        expect(m.start, `step ${s.step} (${s.role})`).toBeGreaterThanOrEqual(s.before - tolerance);
        expect(m.start, `step ${s.step} (${s.role})`).toBeLessThanOrEqual(s.after + tolerance);
        const role = m.pid !== run.pid ? 'child' : m.tid === m.pid ? 'main' : 'thread';
        expect(role).toBe(s.role);
      }
      // Every process's records are in CLOCK_MONOTONIC ns, bounded by its own start and end.
      const procs = queryAll<{ pid: number; start: number; end: number }>(db, 'SELECT pid, start, end FROM GILNVTX_PROCESSES');
      for (const m of marks) {
        const p = procs.find((q) => q.pid === m.pid)!;
        expect(m.start).toBeGreaterThanOrEqual(p.start - tolerance);
        expect(m.start).toBeLessThanOrEqual(p.end + tolerance);
      }
    });
  }

  it('refuses a raw file of another format version with a clear error', () => {
    const { rawDir } = traceStamps('monotonic');
    const old = join(scratchDir('stamps-old'), 'raw');
    mkdirSync(old);
    const name = readdirSync(rawDir).find((n) => n.endsWith('.gnvtx'))!;
    copyFileSync(join(rawDir, name), join(old, name));
    const fd = openSync(join(old, name), 'r+');
    const v = Buffer.alloc(4);
    v.writeUInt32LE(RAW_FORMAT_VERSION - 1);
    writeSync(fd, v, 0, 4, HeaderOffset.version);
    closeSync(fd);
    expect(() => mergeTrace(old, join(old, 'trace.sqlite'))).toThrow(
      new RegExp(`collector format ${RAW_FORMAT_VERSION - 1}, this gil-nvtx reads ${RAW_FORMAT_VERSION}`),
    );
  });
});

describe('TickConverter', () => {
  // 3 ticks per ns, with an offset; the middle pair bends the line to check interpolation per segment.
  const pairs: [number, number][] = [
    [3_000, 1_000],
    [3_000 + 3_000_000, 1_001_000],
    [3_000 + 9_000_000, 2_001_000],
  ];
  it('interpolates linearly between the calibration pairs around a tick value', () => {
    const c = new TickConverter(pairs);
    expect(c.toNs(3_000)).toBe(1_000);
    expect(c.toNs(3_000 + 1_500_000)).toBe(501_000);
    expect(c.toNs(3_000 + 6_000_000)).toBe(1_501_000);
    expect(c.toNs(3_000 + 9_000_000)).toBe(2_001_000);
  });
  it('extrapolates outside the pairs with the first-to-last slope', () => {
    const c = new TickConverter([...pairs].reverse());
    const slope = 2_000_000 / 9_000_000;
    expect(c.toNs(0)).toBe(Math.round(1_000 - 3_000 * slope));
    expect(c.toNs(3_000 + 18_000_000)).toBe(Math.round(2_001_000 + 9_000_000 * slope));
  });
  it('drops a pair whose ns goes backwards, so the mapping stays monotonic', () => {
    const c = new TickConverter([...pairs, [3_000 + 4_000_000, 900_000]]);
    const xs = Array.from({ length: 100 }, (_, i) => c.toNs(i * 100_000));
    for (let i = 1; i < xs.length; i++) expect(xs[i]!).toBeGreaterThanOrEqual(xs[i - 1]!);
  });
  it('needs two pairs for a TSC file', () => {
    expect(() => new TickConverter([[1, 1]])).toThrow(/fewer than two calibration pairs/);
  });
  it('passes clock_gettime ns through', () => {
    expect(new TickConverter([], true).toNs(123_456_789)).toBe(123_456_789);
  });
});
