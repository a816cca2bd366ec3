import { describe, expect, it } from 'vitest';
import { WaitUnion, distribution } from '../../lib/report/stats.js';

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
});
