// The view from the other side of blame: the slowest instances of repeated operations outside the GIL
// domain (a Node request, a job) and the GIL holds in progress while each ran. "Repeated" (a name seen at
// least twice in its domain and process) is what makes a latency outlier: a range that happens once, such
// as a worker's whole lifetime, has nothing to be slow against.
import { pidOf } from './load.js';
import { firstStartAtOrAfter, type LoadedTrace } from './model.js';
import { EventType, nvtxTextSql } from './schema.js';
import type { HoldDuringRange, SlowRange } from './types.js';
import { threadRef, threadRefOf } from './validate.js';

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
}

function longestHolds(trace: LoadedTrace): number[] {
  return trace.gils.map(({ holds: { start, end, count } }) => {
    let longest = 0;
    for (let i = 0; i < count; i++) longest = Math.max(longest, end[i]! - start[i]!);
    return longest;
  });
}

function holdsDuring(trace: LoadedTrace, longestByGil: number[], s: number, e: number): HoldDuringRange[] {
  const out: HoldDuringRange[] = [];
  for (const [g, gil] of trace.gils.entries()) {
    const { start, end, thread, count } = gil.holds;
    const longest = longestByGil[g]!;
    // Holds are sorted by start: find the first starting at or after e, then walk back while they can reach s.
    const lo = firstStartAtOrAfter(start, count, e);
    for (let i = lo - 1; i >= 0 && start[i]! + longest > s; i--) {
      const overlap = Math.min(end[i]!, e) - Math.max(start[i]!, s);
      if (overlap <= 0) continue;
      out.push({
        gil: gil.key,
        pid: gil.pid,
        processName: trace.processNames.get(gil.pid) ?? `pid ${gil.pid}`,
        thread: threadRef(trace, thread[i]!),
        startNs: start[i]!,
        endNs: end[i]!,
        durationNs: end[i]! - start[i]!,
        overlapNs: overlap,
      });
    }
  }
  return out.sort((a, b) => b.overlapNs - a.overlapNs);
}

export function slowRanges(trace: LoadedTrace, opts: SlowRangeOptions = {}): SlowRange[] {
  const top = opts.top ?? 5;
  const maxHolds = opts.maxHolds ?? 5;
  if (top === 0) return [];
  const { expr: text, join } = nvtxTextSql(trace.schema, 'n');
  const notGil = trace.gilRowFilter.replace(/\b(domainId|globalTid)\b/g, 'n.$1');
  // One pass in SQL: closed non-GIL ranges with their name; grouping happens here, where it is cheap.
  const rows = trace.db
    .prepare(
      `SELECT n.start, n.end, n.globalTid, ${text}, COALESCE(n.domainId, 0) FROM NVTX_EVENTS AS n ${join} ` +
        `WHERE n.eventType IN (${EventType.PushPopRange}, ${EventType.StartEndRange}) AND n.end IS NOT NULL AND NOT (${notGil})`,
    )
    .raw(true)
    .all() as [number, number, number, string | null, number][];
  const groups = new Map<string, Row[]>();
  for (const [start, end, gt, name, domainId] of rows) {
    const key = `${pidOf(gt)}/${domainId}/${name ?? ''}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push({ start, end, gt, name: name ?? '', domainId });
  }
  const candidates: { row: Row; instances: number; medianNs: number }[] = [];
  for (const g of groups.values()) {
    if (g.length < 2) continue;
    const durations = g.map((r) => r.end - r.start).sort((a, b) => a - b);
    const medianNs = durations[durations.length >> 1]!;
    for (const row of g) candidates.push({ row, instances: g.length, medianNs });
  }
  candidates.sort((a, b) => b.row.end - b.row.start - (a.row.end - a.row.start) || a.row.start - b.row.start);
  const longestByGil = longestHolds(trace);
  return candidates.slice(0, top).map(({ row, instances, medianNs }, i) => {
    const pid = pidOf(row.gt);
    const holds = holdsDuring(trace, longestByGil, row.start, row.end);
    return {
      rank: i + 1,
      domain: trace.domainNames.get(`${pid}/${row.domainId}`) ?? (row.domainId === 0 ? '(default)' : `domain ${row.domainId}`),
      name: row.name,
      pid,
      processName: trace.processNames.get(pid) ?? `pid ${pid}`,
      thread: threadRefOf(trace, row.gt),
      startNs: row.start,
      endNs: row.end,
      durationNs: row.end - row.start,
      instances,
      medianNs,
      gilHeldNs: holds.reduce((sum, h) => sum + h.overlapNs, 0),
      holds: holds.slice(0, maxHolds),
    };
  });
}
