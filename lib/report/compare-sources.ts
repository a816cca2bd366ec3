// Fidelity of the two GIL sources on one run: a patched interpreter under nsys 2024.2 with both `nvtx`
// and `python-gil` records every hold twice, once per source (gil-sources.ts). Per thread, each of our
// holds and waits is matched with nsys's (start and end within a tolerance), and what is left over on
// either side is counted: how many of ours nsys also has and the reverse, how far apart the two clocks
// put the same transition, and which waits nsys leaves out (by their duration in our ranges).
import { loadTrace, type LoadOptions } from './load.js';
import { GilEventKind, type LoadedTrace } from './model.js';
import { validateTrace } from './validate.js';

interface Range {
  start: number;
  end: number;
}

/** Closed ranges of one kind, by tid (pid-qualified: `pid/tid`), each list in start order. */
type ByThread = Map<string, Range[]>;

interface SourceRanges {
  holds: ByThread;
  waits: ByThread;
  overlaps: number;
  longest: { thread: string; start: number; end: number } | null;
}

function read(trace: LoadedTrace): SourceRanges {
  const holds: ByThread = new Map();
  const waits: ByThread = new Map();
  let longest: SourceRanges['longest'] = null;
  for (const gil of trace.gils) {
    gil.scan((kind, start, end, t, open) => {
      // Open ranges are cut where each producer stopped, not where the hold ended: not comparable.
      if (open || kind === GilEventKind.drop) return;
      const info = trace.threads[t]!;
      const key = `${info.pid}/${info.tid}`;
      const into = kind === GilEventKind.hold ? holds : waits;
      let list = into.get(key);
      if (!list) into.set(key, (list = []));
      list.push({ start, end });
      if (kind === GilEventKind.hold && (!longest || end - start > longest.end - longest.start)) longest = { thread: key, start, end };
    });
  }
  return { holds, waits, overlaps: validateTrace(trace).violationCount, longest };
}

interface Pairing {
  pairs: [Range, Range][];
  oursOnly: Range[];
  theirsOnly: Range[];
}

/** Index of the first range of `list` (start-ordered) starting at or after `t`. */
function firstFrom(list: Range[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.start < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** For each range of `from`, the closest of `to` (|Δstart| + |Δend|) with both within `tol`; -1 for none. */
function closest(from: Range[], to: Range[], tol: number): number[] {
  return from.map((a) => {
    let best = -1;
    let bestCost = Infinity;
    for (let k = firstFrom(to, a.start - tol); k < to.length && to[k]!.start <= a.start + tol; k++) {
      const b = to[k]!;
      const endGap = Math.abs(b.end - a.end);
      if (endGap > tol) continue;
      const cost = Math.abs(b.start - a.start) + endGap;
      if (cost < bestCost) {
        bestCost = cost;
        best = k;
      }
    }
    return best;
  });
}

/**
 * Matches two start-ordered lists of one thread: a pair is two ranges that are each other's closest
 * (|Δstart| + |Δend|, both within `tol`). Mutual, so a short wait of ours next to a long blocked one
 * cannot take nsys's range away from the one it belongs to, however wide the tolerance.
 */
export function pairRanges(ours: Range[], theirs: Range[], tol: number): Pairing {
  const forward = closest(ours, theirs, tol);
  const backward = closest(theirs, ours, tol);
  const pairs: [Range, Range][] = [];
  const oursOnly: Range[] = [];
  const taken = new Uint8Array(theirs.length);
  forward.forEach((k, i) => {
    if (k >= 0 && backward[k] === i) {
      pairs.push([ours[i]!, theirs[k]!]);
      taken[k] = 1;
    } else oursOnly.push(ours[i]!);
  });
  return { pairs, oursOnly, theirsOnly: theirs.filter((_, k) => taken[k] === 0) };
}

export interface DeltaSummary {
  /** theirs − ours, signed median (ns): positive means nsys sees the transition later. */
  medianNs: number;
  /** Of |theirs − ours|. */
  p99AbsNs: number;
  maxAbsNs: number;
}

export interface DurationSummary {
  count: number;
  p50Ns: number;
  p99Ns: number;
  maxNs: number;
  minNs: number;
}

export interface KindComparison {
  ours: number;
  theirs: number;
  matched: number;
  oursOnly: number;
  theirsOnly: number;
  start: DeltaSummary | null;
  end: DeltaSummary | null;
  /** Durations, in our ranges, of those nsys also has and of those it has not. */
  matchedDurations: DurationSummary | null;
  oursOnlyDurations: DurationSummary | null;
  /**
   * Of ours without a match, those overlapping one of nsys's unmatched ranges of the same thread: the
   * same hold or wait seen with different bounds (beyond the tolerance), or several of ours where nsys
   * saw one range (a release and re-acquisition nsys did not record).
   */
  oursOnlyOverlapping: number;
}

export interface ThreadComparison {
  thread: string;
  holds: { ours: number; theirs: number; matched: number };
  waits: { ours: number; theirs: number; matched: number };
}

export interface SourceComparison {
  source: string;
  toleranceNs: number;
  holds: KindComparison;
  waits: KindComparison;
  threads: ThreadComparison[];
  overlaps: { patch: number; nsys: number };
  /** The longest closed hold of each source, and whether the other source has the same one. */
  longestHold: { patch: Range & { thread: string }; nsys: Range & { thread: string }; matched: boolean } | null;
  /** Matched holds and waits at other tolerances: where the counts stop growing is the tolerance the clocks need. */
  ladder: { toleranceNs: number; holds: number; waits: number }[];
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function deltas(values: number[]): DeltaSummary | null {
  if (values.length === 0) return null;
  const signed = [...values].sort((a, b) => a - b);
  const abs = values.map(Math.abs).sort((a, b) => a - b);
  return { medianNs: quantile(signed, 0.5), p99AbsNs: quantile(abs, 0.99), maxAbsNs: abs[abs.length - 1]! };
}

function durations(ranges: Range[]): DurationSummary | null {
  if (ranges.length === 0) return null;
  const d = ranges.map((r) => r.end - r.start).sort((a, b) => a - b);
  return { count: d.length, p50Ns: quantile(d, 0.5), p99Ns: quantile(d, 0.99), maxNs: d[d.length - 1]!, minNs: d[0]! };
}

function compareKind(ours: ByThread, theirs: ByThread, tol: number): { kind: KindComparison; perThread: Map<string, { ours: number; theirs: number; matched: number }> } {
  const pairs: [Range, Range][] = [];
  const oursOnly: Range[] = [];
  let theirsOnly = 0;
  let overlapping = 0;
  let oursCount = 0;
  let theirsCount = 0;
  const perThread = new Map<string, { ours: number; theirs: number; matched: number }>();
  for (const thread of new Set([...ours.keys(), ...theirs.keys()])) {
    const a = ours.get(thread) ?? [];
    const b = theirs.get(thread) ?? [];
    const p = pairRanges(a, b, tol);
    pairs.push(...p.pairs);
    oursOnly.push(...p.oursOnly);
    theirsOnly += p.theirsOnly.length;
    for (const o of p.oursOnly) if (p.theirsOnly.some((t) => t.start < o.end && t.end > o.start)) overlapping++;
    oursCount += a.length;
    theirsCount += b.length;
    perThread.set(thread, { ours: a.length, theirs: b.length, matched: p.pairs.length });
  }
  return {
    kind: {
      ours: oursCount,
      theirs: theirsCount,
      matched: pairs.length,
      oursOnly: oursOnly.length,
      theirsOnly,
      start: deltas(pairs.map(([a, b]) => b.start - a.start)),
      end: deltas(pairs.map(([a, b]) => b.end - a.end)),
      matchedDurations: durations(pairs.map(([a]) => a)),
      oursOnlyDurations: durations(oursOnly),
      oursOnlyOverlapping: overlapping,
    },
    perThread,
  };
}

const LADDER_NS = [1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000];

/** Both sources of one trace, compared. `toleranceNs` (default 1 ms) bounds |Δstart| and |Δend| of a match. */
export async function compareGilSources(path: string, opts: LoadOptions & { toleranceNs?: number } = {}): Promise<SourceComparison> {
  const tol = opts.toleranceNs ?? 1_000_000;
  const load = async (gilSource: 'patch' | 'nsys') => {
    const trace = await loadTrace(path, { ...opts, gilSource });
    try {
      return read(trace);
    } finally {
      trace.close();
    }
  };
  const ours = await load('patch');
  const theirs = await load('nsys');
  const holds = compareKind(ours.holds, theirs.holds, tol);
  const waits = compareKind(ours.waits, theirs.waits, tol);
  const threads = [...new Set([...holds.perThread.keys(), ...waits.perThread.keys()])].sort().map((thread) => ({
    thread,
    holds: holds.perThread.get(thread) ?? { ours: 0, theirs: 0, matched: 0 },
    waits: waits.perThread.get(thread) ?? { ours: 0, theirs: 0, matched: 0 },
  }));
  let longestHold: SourceComparison['longestHold'] = null;
  if (ours.longest && theirs.longest) {
    const a = ours.longest;
    const b = theirs.longest;
    const matched = a.thread === b.thread && Math.abs(a.start - b.start) <= tol && Math.abs(a.end - b.end) <= tol;
    longestHold = { patch: a, nsys: b, matched };
  }
  return {
    source: path,
    toleranceNs: tol,
    holds: holds.kind,
    waits: waits.kind,
    threads,
    overlaps: { patch: ours.overlaps, nsys: theirs.overlaps },
    longestHold,
    ladder: LADDER_NS.map((t) => ({
      toleranceNs: t,
      holds: compareKind(ours.holds, theirs.holds, t).kind.matched,
      waits: compareKind(ours.waits, theirs.waits, t).kind.matched,
    })),
  };
}
