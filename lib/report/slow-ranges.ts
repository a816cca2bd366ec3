// The view from the other side of blame: the slowest instances of repeated operations outside the GIL
// domain (a Node request, a job) and the GIL holds in progress while each ran. "Repeated" (a name seen at
// least twice in its domain and process) is what makes a latency outlier: a range that happens once, such
// as a worker's whole lifetime, has nothing to be slow against.
import { blockedDuring, eventLoopBlocks, isEventLoopDomain } from './event-loop.js';
import { GilEventKind, domainNameOf, type GilRanges, type LoadedTrace } from './model.js';
import { scanGils, type GilPass, type GilPassScan } from './scan.js';
import { JobLinks, ServedByPass, type CorrelatedRange } from './served-by.js';
import { hasColumns, nvtxTextSql } from './schema.js';
import { decodeCorrelation } from '../nvtx/context-payload.js';
import type { HoldDuringRange, SlowRange } from './types.js';
import { threadRef, threadRefOf } from './validate.js';
import { NsysEventType, pidOf, tidOf } from '../nsys/export-schema.js';

export interface SlowRangeOptions {
  top?: number;
  maxHolds?: number;
}

interface Row {
  start: number;
  end: number;
  gt: number;
  name: string;
  domainId: number;
  /** The payload when it is a correlation id (the range is a job another process sent), else null. */
  correlation: number | null;
}

interface Held {
  hold: HoldDuringRange;
  gilIndex: number;
}

/**
 * The holds in progress during each of a few ranges, from one scan per GIL for all of them: per range
 * the Σ overlap and the `maxHolds` largest overlaps (ties: earlier GIL first, then the later hold).
 */
export class HoldsDuringPass implements GilPass {
  readonly heldNs: number[];
  readonly kept: Held[][];
  constructor(
    private readonly trace: LoadedTrace,
    private readonly ranges: { start: number; end: number }[],
    private readonly maxHolds: number,
  ) {
    this.heldNs = ranges.map(() => 0);
    this.kept = ranges.map(() => []);
  }
  gil(gil: GilRanges, gilIndex: number): GilPassScan | null {
    const { ranges, kept, heldNs, maxHolds, trace } = this;
    if (ranges.length === 0) return null;
    const processName = trace.processNames.get(gil.pid) ?? `pid ${gil.pid}`;
    return {
      visit: (kind, s, e, t) => {
        if (kind !== GilEventKind.hold) return;
        for (let r = 0; r < ranges.length; r++) {
          const overlap = Math.min(e, ranges[r]!.end) - Math.max(s, ranges[r]!.start);
          if (overlap <= 0) continue;
          heldNs[r]! += overlap;
          const list = kept[r]!;
          if (maxHolds <= 0) continue;
          if (list.length === maxHolds) {
            const last = list[maxHolds - 1]!;
            // Equal overlaps: a later hold of the same GIL goes before, one of an earlier GIL stays.
            if (overlap < last.hold.overlapNs || (overlap === last.hold.overlapNs && last.gilIndex !== gilIndex)) continue;
          }
          let at = list.length;
          while (at > 0 && (list[at - 1]!.hold.overlapNs < overlap || (list[at - 1]!.hold.overlapNs === overlap && list[at - 1]!.gilIndex === gilIndex))) at--;
          list.splice(at, 0, {
            gilIndex,
            hold: { gil: gil.key, pid: gil.pid, processName, thread: threadRef(trace, t), startNs: s, endNs: e, durationNs: e - s, overlapNs: overlap },
          });
          if (list.length > maxHolds) list.pop();
        }
      },
    };
  }
}

/**
 * The slowest repeated non-GIL ranges, longest first (SQL only; the holds during them come from
 * `HoldsDuringPass`), and every range of the trace that carries a correlation id (the same pass reads them).
 */
export function slowRangeCandidates(trace: LoadedTrace, top: number): SlowCandidates {
  const correlated: CorrelatedRange[] = [];
  if (top === 0) return Object.assign([], { correlated });
  const { expr: text, join } = nvtxTextSql(trace.schema, 'n');
  const notGil = trace.nonGilRowFilter('n');
  const payload = hasColumns(trace.schema, 'NVTX_EVENTS', ['int64Value', 'uint64Value']) ? 'COALESCE(n.int64Value, n.uint64Value)' : 'NULL';
  // One pass in SQL: closed non-GIL ranges with their name; grouping happens here, where it is cheap.
  const rows = trace.db
    .prepare(
      `SELECT n.start, n.end, n.globalTid, ${text}, COALESCE(n.domainId, 0), ${payload} FROM NVTX_EVENTS AS n ${join} ` +
        `WHERE n.eventType IN (${NsysEventType.pushPop}, ${NsysEventType.startEnd}) AND n.end IS NOT NULL AND ${notGil}`,
    )
    .raw(true)
    .all() as [number, number, number, string | null, number, number | null][];
  const groups = new Map<string, Row[]>();
  for (const [start, end, gt, name, domainId, value] of rows) {
    // The event-loop blocks are what a slow request is measured against, not slow requests themselves.
    if (isEventLoopDomain(trace.domainNames.get(`${pidOf(gt)}/${domainId}`))) continue;
    const key = `${pidOf(gt)}/${domainId}/${name ?? ''}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    const row: Row = { start, end, gt, name: name ?? '', domainId, correlation: decodeCorrelation(value) ? value : null };
    g.push(row);
    if (row.correlation !== null) correlated.push({ ...row, correlation: row.correlation });
  }
  const candidates: { row: Row; instances: number; medianNs: number }[] = [];
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    const durations = g.map((r) => r.end - r.start).sort((a, b) => a - b);
    const medianNs = durations[durations.length >> 1]!;
    for (const row of g) candidates.push({ row, instances: g.length, medianNs });
  }
  candidates.sort((a, b) => b.row.end - b.row.start - (a.row.end - a.row.start) || a.row.start - b.row.start);
  return Object.assign(candidates.slice(0, top), { correlated });
}

/** The candidates, and the trace's correlated ranges (the jobs the served-by answer is made of). */
export type SlowCandidates = SlowCandidate[] & { correlated: CorrelatedRange[] };

export interface SlowCandidate {
  row: Row;
  instances: number;
  medianNs: number;
}

/** Turns the candidates and what `HoldsDuringPass` (and `ServedByPass`, with correlated jobs) found during them into the report's entries. */
export function slowRangesFrom(trace: LoadedTrace, candidates: SlowCandidate[], during: HoldsDuringPass, served: ServedByPlan | null = null): SlowRange[] {
  const blocks = candidates.length > 0 ? eventLoopBlocks(trace) : null;
  return candidates.map(({ row, instances, medianNs }, i) => {
    const pid = pidOf(row.gt);
    return {
      rank: i + 1,
      domain: domainNameOf(trace, pid, row.domainId),
      name: row.name,
      pid,
      processName: trace.processNames.get(pid) ?? `pid ${pid}`,
      thread: threadRefOf(trace, row.gt),
      startNs: row.start,
      endNs: row.end,
      durationNs: row.end - row.start,
      instances,
      medianNs,
      gilHeldNs: during.heldNs[i]!,
      holds: during.kept[i]!.map((h) => h.hold),
      eventLoop: blockedDuring(blocks, pid, tidOf(row.gt), row.start, row.end),
      servedBy: served ? served.pass.servedBy(served.links.jobsOf(row)) : null,
    };
  });
}

export interface ServedByPlan {
  links: JobLinks;
  pass: ServedByPass;
}

/** The scan pass that says who served each candidate; null when the trace has no correlated jobs. */
export function servedByPlan(trace: LoadedTrace, candidates: SlowCandidates): ServedByPlan | null {
  if (candidates.length === 0) return null;
  const links = JobLinks.read(trace, candidates.map((c) => c.row), candidates.correlated);
  if (!links) return null;
  return { links, pass: new ServedByPass(trace, candidates.flatMap((c) => links.jobsOf(c.row))) };
}

export function slowRanges(trace: LoadedTrace, opts: SlowRangeOptions = {}): SlowRange[] {
  const candidates = slowRangeCandidates(trace, opts.top ?? 5);
  const during = new HoldsDuringPass(trace, candidates.map((c) => c.row), opts.maxHolds ?? 5);
  const served = servedByPlan(trace, candidates);
  scanGils(trace, served ? [during, served.pass] : [during]);
  return slowRangesFrom(trace, candidates, during, served);
}
