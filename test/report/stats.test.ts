import { describe, expect, it } from 'vitest';
import type { GilRanges, LoadedTrace } from '../../lib/report/model.js';
import { DurationStats, EXACT_LIMIT, WaitUnion, distribution, gilStats } from '../../lib/report/stats.js';

function reference(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const r = (p: number) => s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!;
  return { count: n, totalNs: s.reduce((a, b) => a + b, 0), p50Ns: r(0.5), p95Ns: r(0.95), p99Ns: r(0.99), maxNs: s[n - 1]! };
}

describe('statistics', () => {
  it('percentiles by selection equal nearest-rank percentiles of the sorted values', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let t = 0; t < 400; t++) {
      const n = 1 + Math.floor(rnd() * 500);
      const shape = t % 4;
      const v = Array.from({ length: n }, (_, i) => (shape === 0 ? Math.floor(rnd() * 5) : shape === 1 ? i : shape === 2 ? n - i : Math.floor(rnd() * 1e9)));
      const d = distribution(Float64Array.from(v));
      expect(d).toMatchObject(reference(v));
    }
    expect(distribution(new Float64Array(0)).count).toBe(0);
  });

  it('contended time is the union of the waits, not their sum', () => {
    // Closed waits in start order, as a GIL scan yields them (the open one, 40–1000, is never fed).
    const intervals: [number, number][] = [];
    const u = new WaitUnion((s, e) => intervals.push([s, e]));
    for (const [s, e] of [[0, 10], [5, 15], [20, 30]] as const) u.add(s, e);
    expect(u.finish()).toBe(15 + 10);
    expect(intervals).toEqual([[0, 15], [20, 30]]);
  });

  it(`percentiles stay exact up to ${EXACT_LIMIT} values, then within 0.5 % (count, total, mean, max always exact)`, () => {
    let seed = 99;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const shapes: Record<string, (i: number) => number> = {
      'hold-like (skewed)': () => 2_000 + Math.floor(rnd() * rnd() * 1_000_000),
      'wide (ns to seconds)': () => Math.floor(Math.exp(rnd() * Math.log(3e9))),
      'small integers': () => Math.floor(rnd() * 3_000),
      constant: () => 12_345,
      'heavy tail': (i) => (i % 1000 === 0 ? 200_000_000 + i : 500 + Math.floor(rnd() * 5_000)),
    };
    for (const [name, make] of Object.entries(shapes)) {
      for (const n of [EXACT_LIMIT, EXACT_LIMIT + 1, 300_000]) {
        const values = Float64Array.from({ length: n }, (_, i) => make(i));
        const acc = new DurationStats();
        for (const v of values) acc.add(v);
        const got = acc.result();
        const exact = distribution(values.slice());
        expect({ name, n, count: got.count, totalNs: got.totalNs, meanNs: got.meanNs, maxNs: got.maxNs }).toEqual({
          name,
          n,
          count: exact.count,
          totalNs: exact.totalNs,
          meanNs: exact.meanNs,
          maxNs: exact.maxNs,
        });
        for (const p of ['p50Ns', 'p95Ns', 'p99Ns'] as const) {
          if (n <= EXACT_LIMIT) expect(got[p]).toBe(exact[p]);
          else expect(Math.abs(got[p] - exact[p])).toBeLessThanOrEqual(exact[p] * 0.005);
          expect(Number.isInteger(got[p])).toBe(true);
        }
      }
    }
  });

  it('handoff: a release counts when some closed wait has start ≤ release < end, even when that wait comes after the next hold', () => {
    const holds: [number, number][] = [[0, 10], [12, 20], [25, 30], [30, 35], [40, 50]];
    const waits: [number, number, number, boolean][] = [
      [5, 12, 1, false], // covers the release at 10: gap 12 − 10 = 2
      [30, 40, 1, false], // starts at the release at 30 (tied with the next hold's start): gap 0; covers 35: gap 5
      [15, 21, 1, true], // open: never makes a release contended
    ];
    // Start order, and the tie at 30 with the wait after the hold.
    const events: [number, number, number, number, boolean][] = [
      ...holds.map(([s, e]) => [1, s, e, 0, false] as [number, number, number, number, boolean]),
      ...waits.map(([s, e, t, open]) => [0, s, e, t, open] as [number, number, number, number, boolean]),
    ].sort((a, b) => a[1] - b[1] || b[0] - a[0]);
    const gil: GilRanges = {
      key: '1/0',
      pid: 1,
      interpreterId: 0,
      counts: { holds: holds.length, waits: waits.length, drops: 0 },
      scan: (visit) => {
        for (const e of events) visit(...e);
      },
    };
    const trace = {
      threads: [0, 1].map((index) => ({ index, globalTid: index, pid: 1, tid: 10 + index, name: `t${index}` })),
      processes: new Map([[1, { pid: 1, name: 'p' }]]),
      gils: [gil],
    } as unknown as LoadedTrace;
    const st = gilStats(trace, gil);
    expect(st.handoff).toMatchObject({ count: 3, totalNs: 2 + 0 + 5, maxNs: 5 });
    expect(st.contendedNs).toBe(7 + 10);
    expect(st.threads.find((t) => t.thread.tid === 11)!.openWaits).toBe(1);
  });
});
