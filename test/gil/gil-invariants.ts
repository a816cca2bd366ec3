import Database from 'better-sqlite3';

/**
 * The invariants the GIL patch promises, checked on an nsys SQLite export. Deliberately small: the
 * full analysis lives in lib/report; this only proves the patch right.
 */
export interface GilRange {
  pid: number;
  tid: number;
  name: 'Waiting for GIL' | 'Holding GIL';
  start: number;
  end: number | null;
  interpId: number | null;
  gilId: number;
}

export interface GilTrace {
  ranges: GilRange[];
  /** Drop requests and location marks (`name` tells them apart). */
  marks: { pid: number; tid: number; start: number; interpId: number | null; name: string }[];
  /**
   * nsys (2022.4) ends a range the program never ended at the end of the session (ANALYSIS_DETAILS
   * duration); a range ending there was left open by the program.
   */
  sessionEnd: number;
}

export function readGilTrace(sqlite: string): GilTrace {
  const db = new Database(sqlite, { readonly: true });
  try {
    const hasNvtx = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'NVTX_EVENTS'").get();
    if (!hasNvtx) return { ranges: [], marks: [], sessionEnd: Number.POSITIVE_INFINITY };
    // Domain ids are per process: resolve the GIL domain per pid. A process may
    // create it twice (the patch registers again in a fork child), hence DISTINCT.
    const rows = db
      .prepare(
        `SELECT e.eventType AS type, e.start, e.end, (e.globalTid >> 24) & 0xFFFFFF AS pid,
                e.globalTid & 0xFFFFFF AS tid, COALESCE(s.value, e.text) AS name,
                e.uint64Value AS interpId, COALESCE(e.category, 0) AS gilId
           FROM NVTX_EVENTS AS e
           JOIN (SELECT DISTINCT domainId, (globalTid >> 24) & 0xFFFFFF AS pid FROM NVTX_EVENTS
                  WHERE eventType = 75 AND text = 'CPython GIL') AS d
             ON d.domainId = e.domainId AND d.pid = ((e.globalTid >> 24) & 0xFFFFFF)
           LEFT JOIN StringIds AS s ON s.id = e.textId
          WHERE e.eventType IN (34, 59, 60)
          ORDER BY e.start`,
      )
      .all() as { type: number; start: number; end: number | null; pid: number; tid: number; name: string; interpId: number | null; gilId: number }[];
    const details = db.prepare('SELECT MAX(duration) AS d FROM ANALYSIS_DETAILS').get() as { d: number | null } | undefined;
    const sessionEnd = details?.d ?? Number.POSITIVE_INFINITY;
    const ranges: GilRange[] = [];
    const marks: GilTrace['marks'] = [];
    for (const r of rows) {
      if (r.type === 34) marks.push({ pid: r.pid, tid: r.tid, start: r.start, interpId: r.interpId, name: r.name });
      else ranges.push({ pid: r.pid, tid: r.tid, name: r.name as GilRange['name'], start: r.start, end: r.end, interpId: r.interpId, gilId: r.gilId });
    }
    return { ranges, marks, sessionEnd };
  } finally {
    db.close();
  }
}

/** Left open by the program: no end, or ended by the tool at the end of the session. */
export function isOpen(trace: GilTrace, r: GilRange): boolean {
  return r.end === null || r.end >= trace.sessionEnd;
}

export interface Violation {
  rule: string;
  detail: string;
}

/**
 * - no two Holding ranges of one GIL (pid, gil id) overlap;
 * - per thread, ranges never overlap and every Holding directly follows a Waiting that ended no later;
 * - a range with no end is allowed only where `allowOpen` says so (≤3.11: the main thread's last hold).
 */
export function checkGilInvariants(
  trace: GilTrace,
  allowOpen: (r: GilRange) => boolean = () => false,
  opts: { freeThreaded?: boolean } = {},
): Violation[] {
  const out: Violation[] = [];
  const byGil = new Map<string, GilRange[]>();
  const byThread = new Map<string, GilRange[]>();
  for (const r of trace.ranges) {
    if (isOpen(trace, r) && !allowOpen(r)) out.push({ rule: 'open range', detail: `${r.name} pid ${r.pid} tid ${r.tid} at ${r.start}` });
    const t = `${r.pid}/${r.tid}`;
    if (!byThread.has(t)) byThread.set(t, []);
    byThread.get(t)!.push(r);
    if (r.name !== 'Holding GIL') continue;
    const g = `${r.pid}/${r.gilId}`;
    if (!byGil.has(g)) byGil.set(g, []);
    byGil.get(g)!.push(r);
  }
  const endOf = (r: GilRange) => r.end ?? Number.POSITIVE_INFINITY;
  for (const [gil, holds] of byGil) {
    for (let i = 1; i < holds.length; i++) {
      const prev = holds[i - 1]!;
      const cur = holds[i]!;
      if (cur.start < endOf(prev)) {
        out.push({ rule: 'overlapping holds', detail: `GIL ${gil}: tid ${prev.tid} [${prev.start}, ${prev.end}] and tid ${cur.tid} [${cur.start}, ${cur.end}]` });
      }
    }
  }
  for (const [thread, rs] of byThread) {
    for (let i = 0; i < rs.length; i++) {
      const cur = rs[i]!;
      const prev = rs[i - 1];
      if (prev && cur.start < endOf(prev)) {
        out.push({ rule: 'nested ranges on a thread', detail: `${thread}: ${prev.name} [${prev.start}, ${prev.end}] and ${cur.name} at ${cur.start}` });
      }
      // A wait ends in a hold, or the thread exits (or hangs) while waiting, so it is its last range;
      // free-threaded builds may also return from a wait when the GIL gets disabled meanwhile.
      if (prev && prev.name === 'Waiting for GIL' && cur.name === 'Waiting for GIL' && !opts.freeThreaded) {
        out.push({ rule: 'wait without a hold', detail: `${thread}: Waiting at ${prev.start} is followed by another wait at ${cur.start}` });
      }
      if (cur.name === 'Holding GIL' && !(prev && prev.name === 'Waiting for GIL' && endOf(prev) <= cur.start)) {
        out.push({ rule: 'hold without a wait', detail: `${thread}: Holding at ${cur.start} follows ${prev ? prev.name : 'nothing'}` });
      }
    }
  }
  return out;
}

export function count(trace: GilTrace, pid: number | null, name: GilRange['name']): number {
  return trace.ranges.filter((r) => r.name === name && (pid === null || r.pid === pid)).length;
}
