import { GilNvtxError } from '../errors.js';

/**
 * Maps a collector file's record timestamps to CLOCK_MONOTONIC ns. Files written with
 * clock_gettime already hold ns (identity). TSC files hold raw ticks plus (ticks, ns) calibration
 * pairs; a tick value becomes ns by linear interpolation between the two pairs around it. Outside the
 * pairs it is extrapolated with the slope of the first-to-last pair: adjacent pairs can be
 * microseconds apart (a chunk taken right after attach), where their own slope is mostly read noise.
 */
export class TickConverter {
  private readonly ticks: number[] = [];
  private readonly ns: number[] = [];
  private readonly slope: number;
  /** The segment of the last lookup: one thread's timestamps come in order, so it usually holds. */
  private lo = 0;

  constructor(pairs: [number, number][], readonly identity = false) {
    if (identity) {
      this.slope = 1;
      return;
    }
    // Sorted by ticks; a pair whose ns goes backwards (a pair skewed by preemption) is dropped so the
    // mapping stays monotonic, and duplicates of a tick value keep the first.
    for (const [t, n] of [...pairs].sort((a, b) => a[0] - b[0] || a[1] - b[1])) {
      const last = this.ticks.length - 1;
      if (last >= 0 && (t <= this.ticks[last]! || n < this.ns[last]!)) continue;
      this.ticks.push(t);
      this.ns.push(n);
    }
    const k = this.ticks.length;
    if (k < 2) {
      throw new GilNvtxError('A TSC-stamped collector file has fewer than two calibration pairs.', {
        hint: 'The file is damaged; record again (GIL_NVTX_COLLECTOR_CLOCK=monotonic avoids the TSC).',
      });
    }
    this.slope = (this.ns[k - 1]! - this.ns[0]!) / (this.ticks[k - 1]! - this.ticks[0]!);
  }

  /** CLOCK_MONOTONIC ns (an integer) of a record timestamp. */
  toNs(t: number): number {
    if (this.identity) return t;
    const ticks = this.ticks;
    const ns = this.ns;
    const k = ticks.length;
    if (t <= ticks[0]!) return Math.round(ns[0]! + (t - ticks[0]!) * this.slope);
    if (t >= ticks[k - 1]!) return Math.round(ns[k - 1]! + (t - ticks[k - 1]!) * this.slope);
    const c = this.lo;
    if (ticks[c]! <= t && t < ticks[c + 1]!) return Math.round(ns[c]! + ((t - ticks[c]!) * (ns[c + 1]! - ns[c]!)) / (ticks[c + 1]! - ticks[c]!));
    let lo = 0;
    let hi = k - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (ticks[mid]! <= t) lo = mid;
      else hi = mid;
    }
    this.lo = lo;
    return Math.round(ns[lo]! + ((t - ticks[lo]!) * (ns[hi]! - ns[lo]!)) / (ticks[hi]! - ticks[lo]!));
  }
}
