// Per-GIL and per-thread statistics, from one scan per GIL. Open ranges (stretched to trace end) are
// counted but kept out of the durations: a ≤3.11 exit hold would otherwise dominate every maximum.
import { GilEventKind, type GilRanges, type GilVisitor, type LoadedTrace } from './model.js';
import { scanGil, type GilPass, type GilPassScan } from './scan.js';
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

/** Up to this many values a distribution is exact; past it, `DurationHistogram` takes over. */
export const EXACT_LIMIT = 65_536;

// Log buckets: below LINEAR_LIMIT ns one bucket per nanosecond (exact for the integer durations traces
// hold); above it, bucket b holds [L·γ^b, L·γ^(b+1)) with γ = 1.005, and stands for 2γ·L·γ^b / (γ + 1),
// whose distance to either edge is (γ − 1)/(γ + 1) < 0.25 % of the value. Rounding to an integer ns adds
// at most 0.5 / L < 0.025 %, so a histogram percentile is within 0.3 % of the exact one (≤ 0.5 % promised).
const LINEAR_LIMIT = 2048;
const GAMMA = 1.005;
const LN_GAMMA = Math.log(GAMMA);
const LN_LINEAR = Math.log(LINEAR_LIMIT);

/** The bucket of a duration (negative ones, which only a malformed trace has, count as 0). */
export function durationBucket(v: number): number {
  if (v < LINEAR_LIMIT) return v > 0 ? Math.floor(v) : 0;
  return LINEAR_LIMIT + Math.floor((Math.log(v) - LN_LINEAR) / LN_GAMMA);
}

/** Smallest integer duration in bucket `b`. */
export function bucketFloor(b: number): number {
  return b < LINEAR_LIMIT ? b : Math.ceil(LINEAR_LIMIT * Math.exp((b - LINEAR_LIMIT) * LN_GAMMA));
}

function bucketValue(b: number): number {
  return b < LINEAR_LIMIT ? b : Math.round(((2 * GAMMA) / (GAMMA + 1)) * LINEAR_LIMIT * Math.exp((b - LINEAR_LIMIT) * LN_GAMMA));
}

/** Counts of durations per log bucket; a few tens of KB whatever the number of values. */
export class DurationHistogram {
  counts = new Float64Array(LINEAR_LIMIT + 1024);
  /** One past the highest bucket used. */
  top = 0;
  add(v: number): void {
    const b = durationBucket(v);
    if (b >= this.counts.length) {
      const bigger = new Float64Array(Math.max(b + 1, this.counts.length * 2));
      bigger.set(this.counts);
      this.counts = bigger;
    }
    this.counts[b]!++;
    if (b >= this.top) this.top = b + 1;
  }
  /** Value of the `rank`-th smallest (0-based) duration, to within the bucket's error. */
  valueAt(rank: number): number {
    let seen = 0;
    for (let b = 0; b < this.top; b++) {
      seen += this.counts[b]!;
      if (seen > rank) return bucketValue(b);
    }
    return bucketValue(this.top - 1);
  }
}

/**
 * One distribution, fed value by value: exact (the values kept, `distribution()` at the end) up to
 * EXACT_LIMIT values, a `DurationHistogram` beyond; count, total, mean and max stay exact throughout.
 */
export class DurationStats {
  private values: Float64Array | null = new Float64Array(64);
  private hist: DurationHistogram | null = null;
  count = 0;
  total = 0;
  min = Infinity;
  max = -Infinity;
  add(v: number): void {
    const values = this.values;
    if (values) {
      if (this.count === values.length) {
        if (this.count === EXACT_LIMIT) this.toHistogram(values);
        else {
          const bigger = new Float64Array(Math.min(EXACT_LIMIT, values.length * 4));
          bigger.set(values);
          this.values = bigger;
        }
      }
      if (this.values) this.values[this.count] = v;
    }
    if (this.hist) this.hist.add(v);
    this.count++;
    this.total += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
  private toHistogram(values: Float64Array): void {
    const hist = new DurationHistogram();
    for (let i = 0; i < values.length; i++) hist.add(values[i]!);
    this.hist = hist;
    this.values = null;
  }
  result(): Distribution {
    const n = this.count;
    if (this.values) return distribution(this.values.subarray(0, n));
    const hist = this.hist!;
    const rank = (p: number) => Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1));
    // The true value lies in [min, max], so clamping there only brings the estimate closer.
    const at = (p: number) => Math.min(this.max, Math.max(this.min, hist.valueAt(rank(p))));
    return { count: n, totalNs: this.total, meanNs: Math.round(this.total / n), p50Ns: at(0.5), p95Ns: at(0.95), p99Ns: at(0.99), maxNs: this.max };
  }
}

/**
 * Union of the closed waits, fed in start order: the intervals during which at least one thread waited.
 * `onInterval` sees each interval as it completes.
 */
export class WaitUnion {
  totalNs = 0;
  private cs = NaN;
  private ce = -Infinity;
  constructor(private readonly onInterval?: (start: number, end: number) => void) {}
  add(s: number, e: number): void {
    if (s > this.ce) {
      this.close();
      this.cs = s;
      this.ce = e;
    } else if (e > this.ce) this.ce = e;
  }
  private close(): void {
    if (this.ce > this.cs) {
      this.totalNs += this.ce - this.cs;
      this.onInterval?.(this.cs, this.ce);
    }
  }
  finish(): number {
    this.close();
    this.cs = NaN;
    this.ce = -Infinity;
    return this.totalNs;
  }
}

/**
 * Release → next acquire gaps for releases that happened while someone waited (some closed wait has
 * start ≤ release < end), fed holds and closed waits in start order. Whether a release was waited
 * through is known once a wait starting after it arrives: by then every wait starting at or before it
 * has been seen, and the furthest end among them says. Pending are only the holds still in progress.
 */
class Handoffs {
  readonly gaps = new DurationStats();
  private waitEnd = -Infinity;
  /** [release, gap (NaN until the next hold starts), waited (-1 unknown, 0 no, 1 yes)] */
  private pending: [number, number, number][] = [];
  private last: [number, number, number] | null = null;
  hold(s: number, e: number): void {
    if (this.last) {
      this.last[1] = s - this.last[0];
      this.settle(this.last);
    }
    this.last = [e, NaN, -1];
    this.pending.push(this.last);
  }
  wait(s: number, e: number): void {
    if (this.pending.length > 0) this.resolve(s);
    if (e > this.waitEnd) this.waitEnd = e;
  }
  finish(): DurationStats {
    this.resolve(Infinity);
    return this.gaps;
  }
  /** Decides every pending release before `s`. */
  private resolve(s: number): void {
    const pending = this.pending;
    let kept = 0;
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i]!;
      if (p[2] === -1 && p[0] < s) p[2] = this.waitEnd > p[0] ? 1 : 0;
      if (!this.settle(p)) pending[kept++] = p;
    }
    pending.length = kept;
  }
  /** Counts the gap once both halves are known; true when `p` is done with. */
  private settle(p: [number, number, number]): boolean {
    if (p[2] === -1 || Number.isNaN(p[1])) return p[2] === 0;
    if (p[2] === 1 && p[1] >= 0) this.gaps.add(p[1]);
    p[2] = 0;
    p[1] = NaN;
    return true;
  }
}

/** Per-GIL statistics from one scan; memory follows the number of threads. */
export class StatsPass implements GilPass {
  readonly stats: GilStats[] = [];
  constructor(private readonly trace: LoadedTrace) {}
  gil(gil: GilRanges): GilPassScan {
    const trace = this.trace;
    const n = trace.threads.length;
    const holds = new DurationStats();
    const waits = new DurationStats();
    const holdsBy: (DurationStats | undefined)[] = new Array(n);
    const waitsBy: (DurationStats | undefined)[] = new Array(n);
    const openHolds = new Int32Array(n);
    const openWaits = new Int32Array(n);
    const drops = new Int32Array(n);
    const union = new WaitUnion();
    const handoffs = new Handoffs();
    let first = Infinity;
    let last = -Infinity;
    const visit: GilVisitor = (kind, s, e, t, open) => {
      if (kind === GilEventKind.drop) {
        drops[t]!++;
        return;
      }
      if (s < first) first = s;
      if (kind === GilEventKind.hold) {
        handoffs.hold(s, e);
        if (open) openHolds[t]!++;
        else {
          holds.add(e - s);
          (holdsBy[t] ??= new DurationStats()).add(e - s);
        }
      } else if (open) openWaits[t]!++;
      else {
        handoffs.wait(s, e);
        union.add(s, e);
        waits.add(e - s);
        (waitsBy[t] ??= new DurationStats()).add(e - s);
      }
      if (!open && e > last) last = e;
    };
    const done = () => {
      if (!Number.isFinite(first)) first = 0;
      if (!Number.isFinite(last)) last = first;
      const span = Math.max(0, last - first);
      const holdD = holds.result();
      const contendedNs = union.finish();
      const empty = () => distribution(new Float64Array(0));
      const threads: ThreadStats[] = [];
      for (let t = 0; t < n; t++) {
        if (!holdsBy[t] && !waitsBy[t] && !openHolds[t] && !openWaits[t] && !drops[t]) continue;
        const h = holdsBy[t]?.result() ?? empty();
        threads.push({
          thread: threadRef(trace, t),
          holds: h,
          waits: waitsBy[t]?.result() ?? empty(),
          openHolds: openHolds[t]!,
          openWaits: openWaits[t]!,
          dropRequests: drops[t]!,
          holdShare: holdD.totalNs > 0 ? h.totalNs / holdD.totalNs : 0,
        });
      }
      threads.sort((a, b) => b.holds.totalNs - a.holds.totalNs || b.waits.totalNs - a.waits.totalNs || a.thread.tid - b.thread.tid);
      this.stats.push({
        gil: gil.key,
        pid: gil.pid,
        processName: trace.processes.get(gil.pid)?.name ?? `pid ${gil.pid}`,
        interpreterId: gil.interpreterId,
        firstNs: first,
        lastNs: last,
        spanNs: span,
        holds: holdD,
        waits: waits.result(),
        utilisation: span > 0 ? holdD.totalNs / span : 0,
        contendedNs,
        contention: span > 0 ? contendedNs / span : 0,
        forcedSwitches: gil.counts.drops,
        handoff: handoffs.finish().result(),
        threads,
      });
    };
    return { visit, done };
  }
}

export function gilStats(trace: LoadedTrace, gil: GilRanges): GilStats {
  const pass = new StatsPass(trace);
  scanGil(gil, trace.gils.indexOf(gil), [pass]);
  return pass.stats[0]!;
}
