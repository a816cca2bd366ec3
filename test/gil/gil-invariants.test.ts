import { describe, expect, it } from 'vitest';
import { checkGilInvariants, type GilRange, type GilTrace } from './gil-invariants.js';

// The checker must catch what a wrong patch produces; these traces are built by hand to show it does.
const W = 'Waiting for GIL' as const;
const H = 'Holding GIL' as const;
const r = (tid: number, name: GilRange['name'], start: number, end: number | null, gilId = 0): GilRange => ({ pid: 1, tid, name, start, end, interpId: 0, gilId });
const trace = (ranges: GilRange[], sessionEnd = 1000): GilTrace => ({ ranges: ranges.sort((a, b) => a.start - b.start), marks: [], sessionEnd });

describe('GIL invariant checker', () => {
  it('accepts a clean handoff between two threads', () => {
    expect(checkGilInvariants(trace([r(1, W, 0, 1), r(1, H, 1, 10), r(2, W, 2, 10), r(2, H, 10, 20), r(1, W, 11, 20), r(1, H, 20, 30)]))).toEqual([]);
  });

  it('flags overlapping holds of one GIL (the MUTEX_LOCK-hook bug)', () => {
    const v = checkGilInvariants(trace([r(1, W, 0, 1), r(1, H, 1, 10), r(2, W, 2, 8), r(2, H, 8, 20)]));
    expect(v.map((x) => x.rule)).toContain('overlapping holds');
  });

  it('allows overlapping holds of different GILs (3.12+ own-GIL interpreters)', () => {
    expect(checkGilInvariants(trace([r(1, W, 0, 1), r(1, H, 1, 10, 0), r(2, W, 2, 3, 1), r(2, H, 3, 20, 1)]))).toEqual([]);
  });

  it('flags a hold without a wait before it, and a wait that never ends in a hold', () => {
    expect(checkGilInvariants(trace([r(1, H, 1, 10)])).map((x) => x.rule)).toEqual(['hold without a wait']);
    expect(checkGilInvariants(trace([r(1, W, 0, 1), r(1, W, 2, 3), r(1, H, 3, 4)])).map((x) => x.rule)).toEqual(['wait without a hold']);
    expect(checkGilInvariants(trace([r(1, W, 0, 1), r(1, W, 2, 3), r(1, H, 3, 4)]), undefined, { freeThreaded: true })).toEqual([]);
  });

  it('flags ranges left open (ended by the tool at session end) unless allowed', () => {
    const t = trace([r(1, W, 0, 1), r(1, H, 1, 1000)]);
    expect(checkGilInvariants(t).map((x) => x.rule)).toEqual(['open range']);
    expect(checkGilInvariants(t, (x) => x.tid === 1)).toEqual([]);
  });
});
