import { describe, expect, it } from 'vitest';
import { contendedIntervals, distribution } from '../../lib/report/stats.js';

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
    const waits = {
      start: Float64Array.from([0, 5, 20, 40]),
      end: Float64Array.from([10, 15, 30, 1000]),
      thread: Int32Array.from([0, 1, 0, 1]),
      open: Uint8Array.from([0, 0, 0, 1]),
      count: 4,
    };
    const u = contendedIntervals(waits);
    expect(u.totalNs).toBe(15 + 10);
    expect([...u.starts]).toEqual([0, 20]);
    expect([...u.ends]).toEqual([15, 30]);
  });
});
