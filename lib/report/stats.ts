// Per-GIL and per-thread statistics. Open ranges (stretched to trace end) are counted but kept out of
// the durations: a ≤3.11 exit hold would otherwise dominate every maximum.
import type { GilEvents, LoadedTrace, RangeColumns } from './model.js';
import type { Distribution, GilStats, ThreadStats } from './types.js';
import { threadRef } from './validate.js';

/** Rearranges a[lo..hi] so that a[k] is the value a sort would put there (Hoare's selection). */
function select(a: Float64Array, k: number, lo: number, hi: number): void {
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    // Median of three as the pivot keeps already-ordered input (common: similar durations) linear.
    let x = a[lo]!;
    let y = a[mid]!;
    let z = a[hi]!;
    if (x > y) [x, y] = [y, x];
    if (y > z) y = z;
    const pivot = Math.max(x, y);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * Nearest-rank percentiles. Selection instead of a sort: three linear passes beat an n·log n sort on
 * the million-range traces the report is built for. Reorders `values`.
 */
export function distribution(values: Float64Array): Distribution {
  const n = values.length;
  if (n === 0) return { count: 0, totalNs: 0, meanNs: 0, p50Ns: 0, p95Ns: 0, p99Ns: 0, maxNs: 0 };
  let total = 0;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    total += v;
    if (v > max) max = v;
  }
  const rank = (p: number) => Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1));
  const k99 = rank(0.99);
  const k95 = rank(0.95);
  const k50 = rank(0.5);
  // Each selection leaves smaller values to its left, so the next one searches only that part.
  select(values, k99, 0, n - 1);
  select(values, k95, 0, k99);
  select(values, k50, 0, k95);
  return { count: n, totalNs: total, meanNs: Math.round(total / n), p50Ns: values[k50]!, p95Ns: values[k95]!, p99Ns: values[k99]!, maxNs: max };
}

/** Closed-range durations grouped by thread index (plus all of them). */
function durationsByThread(r: RangeColumns, nThreads: number): { all: Float64Array; byThread: (Float64Array | undefined)[]; open: Int32Array } {
  const counts = new Int32Array(nThreads);
  const open = new Int32Array(nThreads);
  let closed = 0;
  for (let i = 0; i < r.count; i++) {
    const t = r.thread[i]!;
    if (r.open[i]) open[t]!++;
    else {
      counts[t]!++;
      closed++;
    }
  }
  const byThread: (Float64Array | undefined)[] = [];
  for (let t = 0; t < nThreads; t++) byThread.push(counts[t]! > 0 ? new Float64Array(counts[t]!) : undefined);
  const fill = new Int32Array(nThreads);
  const all = new Float64Array(closed);
  let k = 0;
  for (let i = 0; i < r.count; i++) {
    if (r.open[i]) continue;
    const t = r.thread[i]!;
    const d = r.end[i]! - r.start[i]!;
    all[k++] = d;
    byThread[t]![fill[t]!++] = d;
  }
  return { all, byThread, open };
}

/** Distributions of one kind of range, overall and per thread; the duration arrays die here. */
function summarize(r: RangeColumns, nThreads: number): { all: Distribution; byThread: (Distribution | undefined)[]; open: Int32Array } {
  const d = durationsByThread(r, nThreads);
  return { all: distribution(d.all), byThread: d.byThread.map((a) => (a ? distribution(a) : undefined)), open: d.open };
}

/** Union of the closed waits: the intervals during which at least one thread waited. */
export function contendedIntervals(waits: RangeColumns): { starts: Float64Array; ends: Float64Array; totalNs: number } {
  const starts: number[] = [];
  const ends: number[] = [];
  let total = 0;
  let cs = NaN;
  let ce = -Infinity;
  for (let i = 0; i < waits.count; i++) {
    if (waits.open[i]) continue;
    const s = waits.start[i]!;
    const e = waits.end[i]!;
    if (s > ce) {
      if (ce > cs) {
        starts.push(cs);
        ends.push(ce);
        total += ce - cs;
      }
      cs = s;
      ce = e;
    } else if (e > ce) ce = e;
  }
  if (ce > cs) {
    starts.push(cs);
    ends.push(ce);
    total += ce - cs;
  }
  return { starts: Float64Array.from(starts), ends: Float64Array.from(ends), totalNs: total };
}

function handoffs(holds: RangeColumns, contended: { starts: Float64Array; ends: Float64Array }): Float64Array {
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i + 1 < holds.count; i++) {
    const release = holds.end[i]!;
    while (j < contended.ends.length && contended.ends[j]! <= release) j++;
    if (j < contended.starts.length && contended.starts[j]! <= release) {
      const gap = holds.start[i + 1]! - release;
      if (gap >= 0) out.push(gap);
    }
  }
  return Float64Array.from(out);
}

export function gilStats(trace: LoadedTrace, gil: GilEvents): GilStats {
  const n = trace.threads.length;
  // One kind at a time, so only one set of duration copies is alive at once.
  const holdD = summarize(gil.holds, n);
  const waitD = summarize(gil.waits, n);
  let first = Infinity;
  let last = -Infinity;
  for (const r of [gil.holds, gil.waits]) {
    if (r.count > 0) first = Math.min(first, r.start[0]!);
    for (let i = 0; i < r.count; i++) if (!r.open[i] && r.end[i]! > last) last = r.end[i]!;
  }
  if (!Number.isFinite(first)) first = 0;
  if (!Number.isFinite(last)) last = first;
  const span = Math.max(0, last - first);
  const holds = holdD.all;
  const contended = contendedIntervals(gil.waits);
  const drops = new Int32Array(n);
  for (let i = 0; i < gil.drops.count; i++) drops[gil.drops.thread[i]!]!++;
  const empty = new Float64Array(0);
  const threads: ThreadStats[] = [];
  for (let t = 0; t < n; t++) {
    if (!holdD.byThread[t] && !waitD.byThread[t] && !holdD.open[t] && !waitD.open[t] && !drops[t]) continue;
    const h = holdD.byThread[t] ?? distribution(empty);
    threads.push({
      thread: threadRef(trace, t),
      holds: h,
      waits: waitD.byThread[t] ?? distribution(empty),
      openHolds: holdD.open[t]!,
      openWaits: waitD.open[t]!,
      dropRequests: drops[t]!,
      holdShare: holds.totalNs > 0 ? h.totalNs / holds.totalNs : 0,
    });
  }
  threads.sort((a, b) => b.holds.totalNs - a.holds.totalNs || b.waits.totalNs - a.waits.totalNs || a.thread.tid - b.thread.tid);
  return {
    gil: gil.key,
    pid: gil.pid,
    processName: trace.processes.get(gil.pid)?.name ?? `pid ${gil.pid}`,
    interpreterId: gil.interpreterId,
    firstNs: first,
    lastNs: last,
    spanNs: span,
    holds,
    waits: waitD.all,
    utilisation: span > 0 ? holds.totalNs / span : 0,
    contendedNs: contended.totalNs,
    contention: span > 0 ? contended.totalNs / span : 0,
    forcedSwitches: gil.drops.count,
    handoff: distribution(handoffs(gil.holds, contended)),
    threads,
  };
}
