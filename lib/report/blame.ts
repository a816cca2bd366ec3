// The top-N longest holds and why they hurt: whom they blocked, whether the holder was even running,
// what the OS was doing in its process, and which other ranges (a Node request, say) were in flight.
// The side tables are queried once for all N holds (a VALUES list joined to the big table), never once
// per hold: each scan of a large table costs ~0.1 s.
import type { Database } from 'better-sqlite3';
import { holderActivity } from './holder-activity.js';
import { holdLocations, waitLocations } from './locations.js';
import { whyOf } from './why.js';
import { GilEventKind, domainNameOf, type GilRanges, type GilVisitor, type LoadedTrace } from './model.js';
import { scanGils, type GilPass, type GilPassScan } from './scan.js';
import { nvtxTextSql } from './schema.js';
import type { BlamedHold, ConcurrentRange, HolderCpu, OsCall, ThreadRef, Waiter } from './types.js';
import { threadRef, threadRefOf } from './validate.js';
import { NsysEventType, globalTid, pidOfSql, pidOf, threadKey } from '../nsys/export-schema.js';

export interface BlameOptions {
  top?: number;
  minHoldNs?: number;
  /** Per hold, at most this many OS calls / concurrent ranges in each list. */
  maxListed?: number;
}

/** A closed hold among the longest so far, with what it blocked. */
export interface LongHold {
  gil: GilRanges;
  start: number;
  end: number;
  thread: number;
  duration: number;
  /** In scan order; `blamePicked` sorts them. */
  waiters: Waiter[];
  dropRequests: number;
}

/**
 * The N longest closed holds across all GILs (longest first, earlier first on ties, at least `minHoldNs`
 * long), each with the other threads' waits that overlap it and the drop requests made during it.
 * One scan: a hold is picked, or not, when it starts (its end is in the same row), and from then on
 * collects; what it blocked is either a wait still in progress then or one starting during it. Memory:
 * N holds, and the waits in progress (one per thread in a valid trace).
 */
export class LongestHoldsPass implements GilPass {
  readonly best: LongHold[] = [];
  private floor: number;
  constructor(
    private readonly trace: LoadedTrace,
    private readonly top: number,
    private readonly minHoldNs: number,
  ) {
    this.floor = minHoldNs;
  }

  gil(gil: GilRanges): GilPassScan | null {
    const { best, top, trace } = this;
    if (top <= 0) return null;
    // Waits that may still be in progress at the scan position, in scan order.
    let active: { s: number; e: number; t: number; open: boolean }[] = [];
    let pruneAt = 64;
    // Picked holds of this GIL not yet over.
    let live: LongHold[] = [];
    // Drop requests at the latest drop time: one at a hold's very start may come just before it.
    let dropAt = NaN;
    let dropsAt = 0;
    const blocks = (h: LongHold, s: number, e: number, t: number, open: boolean) => {
      if (t === h.thread) return;
      const blocked = Math.min(e, h.end) - Math.max(s, h.start);
      if (blocked > 0) h.waiters.push({ thread: threadRef(trace, t), waitStartNs: s, waitEndNs: e, waitNs: e - s, blockedNs: blocked, open, where: null });
    };
    const visit: GilVisitor = (kind, s, e, t, open) => {
      if (live.length > 0 && live.some((h) => h.end <= s)) live = live.filter((h) => h.end > s);
      if (kind === GilEventKind.drop) {
        if (s !== dropAt) {
          dropAt = s;
          dropsAt = 0;
        }
        dropsAt++;
        for (const h of live) if (s >= h.start) h.dropRequests++;
        return;
      }
      if (kind === GilEventKind.wait) {
        for (const h of live) blocks(h, s, e, t, open);
        if (e > s) active.push({ s, e, t, open });
        if (active.length > pruneAt) {
          active = active.filter((w) => w.e > s);
          pruneAt = Math.max(64, 2 * active.length);
        }
        return;
      }
      if (open) return;
      const d = e - s;
      if (d < this.floor || (best.length === top && d === this.floor)) return;
      let at = best.length;
      while (at > 0 && best[at - 1]!.duration < d) at--;
      const hold: LongHold = { gil, start: s, end: e, thread: t, duration: d, waiters: [], dropRequests: dropAt === s && e > s ? dropsAt : 0 };
      for (const w of active) blocks(hold, w.s, w.e, w.t, w.open);
      best.splice(at, 0, hold);
      live.push(hold);
      if (best.length > top) {
        const out = best.pop()!;
        live = live.filter((h) => h !== out);
      }
      if (best.length === top) this.floor = Math.max(this.minHoldNs, best[top - 1]!.duration);
    };
    return { visit };
  }
}

const holdValues = (holds: { s: number; e: number; pid: number }[]) =>
  holds.map((h, i) => `(${i}, ${Math.trunc(h.s)}, ${Math.trunc(h.e)}, ${h.pid})`).join(', ');

function osCalls(db: Database, holds: { s: number; e: number; pid: number }[]): { i: number; start: number; end: number; gt: number; name: string }[] {
  const sql =
    `WITH h(i, s, e, pid) AS (VALUES ${holdValues(holds)}) ` +
    'SELECT h.i, o.start, o.end, o.globalTid, COALESCE(s.value, \'?\') FROM OSRT_API AS o CROSS JOIN h ' +
    'LEFT JOIN StringIds AS s ON s.id = o.nameId ' +
    `WHERE o.start < ${Math.max(...holds.map((h) => Math.trunc(h.e)))} AND o.end > ${Math.min(...holds.map((h) => Math.trunc(h.s)))} ` +
    `AND o.start < h.e AND o.end > h.s AND ${pidOfSql('o.globalTid')} = h.pid`;
  return (db.prepare(sql).raw(true).all() as [number, number, number, number, string][]).map(([i, start, end, gt, name]) => ({ i, start, end, gt, name }));
}

function concurrentRanges(trace: LoadedTrace, holds: { s: number; e: number; pid: number }[]): { i: number; start: number; end: number | null; gt: number; name: string; domainId: number }[] {
  const { expr: text, join } = nvtxTextSql(trace.schema, 'n');
  const sql =
    `WITH h(i, s, e, pid) AS (VALUES ${holdValues(holds)}) ` +
    `SELECT h.i, n.start, n.end, n.globalTid, ${text}, n.domainId FROM NVTX_EVENTS AS n CROSS JOIN h ${join} ` +
    `WHERE n.eventType IN (${NsysEventType.pushPop}, ${NsysEventType.startEnd}) AND ${trace.nonGilRowFilter('n')} ` +
    // The outer bounds let SQLite skip most rows before it looks at the hold list.
    `AND n.start < ${Math.max(...holds.map((h) => Math.trunc(h.e)))} AND COALESCE(n.end, 9e18) > ${Math.min(...holds.map((h) => Math.trunc(h.s)))} ` +
    'AND n.start < h.e AND COALESCE(n.end, 9e18) > h.s';
  return (db(trace).prepare(sql).raw(true).all() as [number, number, number | null, number, string | null, number | null][])
    .map(([i, start, end, gt, name, domainId]) => ({ i, start, end, gt, name: name ?? '', domainId: domainId ?? 0 }));
}

const db = (trace: LoadedTrace) => trace.db;

function cpuFromSched(db: Database, holds: { s: number; e: number; gt: number }[]): (number | null)[] {
  const tids = [...new Set(holds.map((h) => h.gt))];
  const rows = db
    .prepare(`SELECT globalTid, start, isSchedIn FROM SCHED_EVENTS WHERE globalTid IN (${tids.map((t) => Math.trunc(t)).join(', ')}) ORDER BY globalTid, start`)
    .raw(true)
    .all() as [number, number, number][];
  const byThread = new Map<number, [number, number][]>();
  for (const [gt, t, inn] of rows) {
    let list = byThread.get(gt);
    if (!list) byThread.set(gt, (list = []));
    list.push([t, inn]);
  }
  return holds.map((h) => {
    const ev = byThread.get(h.gt);
    if (!ev || ev.length === 0) return null;
    // State at the hold's start: the last switch before it; before the first switch, the opposite of it.
    let k = 0;
    while (k < ev.length && ev[k]![0] <= h.s) k++;
    let on = k > 0 ? ev[k - 1]![1] !== 0 : ev[0]![1] === 0;
    let t = h.s;
    let onNs = 0;
    for (; k < ev.length && ev[k]![0] < h.e; k++) {
      if (on) onNs += ev[k]![0] - t;
      t = ev[k]![0];
      on = ev[k]![1] !== 0;
    }
    if (on) onNs += h.e - t;
    return onNs;
  });
}

export function cpuState(fraction: number | null): HolderCpu['state'] {
  if (fraction === null) return 'unknown';
  if (fraction >= 0.8) return 'on-cpu';
  if (fraction <= 0.2) return 'off-cpu';
  return 'partly-off-cpu';
}

export function blameHolds(trace: LoadedTrace, opts: BlameOptions = {}): BlamedHold[] {
  const longest = new LongestHoldsPass(trace, opts.top ?? 10, opts.minHoldNs ?? 0);
  scanGils(trace, [longest]);
  return blamePicked(trace, longest.best, opts);
}

/** Explains the holds `LongestHoldsPass` picked, longest first. */
export function blamePicked(trace: LoadedTrace, picked: LongHold[], opts: Pick<BlameOptions, 'maxListed'> = {}): BlamedHold[] {
  const maxListed = opts.maxListed ?? 20;
  if (picked.length === 0) return [];
  const holds = picked.map((c) => {
    const t = trace.threads[c.thread]!;
    return { s: c.start, e: c.end, pid: c.gil.pid, gt: t.globalTid, thread: t.index };
  });
  let cpu: (number | null)[] = holds.map(() => null);
  let cpuSource: HolderCpu['source'] = 'none';
  if (trace.has.sched) {
    cpu = cpuFromSched(trace.db, holds);
    if (cpu.some((v) => v !== null)) cpuSource = 'sched-events';
  }
  const activity = trace.has.holdSamples ? holderActivity(trace.db, holds) : holds.map(() => null);
  // The watchdog samples only part of a hold (from its threshold on): its fraction stands for the hold.
  const sampledCpu = activity.map((a) => (a && a.onCpuNs !== null && a.sampledNs > 0 ? Math.min(1, a.onCpuNs / a.sampledNs) : null));
  if (cpuSource === 'none' && sampledCpu.some((v) => v !== null)) cpuSource = 'watchdog-samples';
  const calls = trace.has.osrt ? osCalls(trace.db, holds) : null;
  const ranges = concurrentRanges(trace, holds);
  const where = holdLocations(trace, holds);
  // Latest wait first before the (stable) sort, so that full ties keep the order they always had.
  const sortedWaiters = picked.map((c) => [...c.waiters].reverse().sort((a, b) => b.blockedNs - a.blockedNs || a.waitStartNs - b.waitStartNs));
  // Where the listed waiters began to wait: one query for all of them.
  const listed = sortedWaiters.flatMap((ws, rank) => ws.slice(0, maxListed).map((w, k) => ({ rank, k, w })));
  const waitWhere = waitLocations(trace, listed.map(({ w }) => ({ gt: globalTidOf(trace, w.thread), end: w.waitEndNs })));
  listed.forEach(({ rank, k, w }, j) => {
    sortedWaiters[rank]![k] = { ...w, where: waitWhere[j] ?? null };
  });

  return picked.map((c, rank) => {
    const h = holds[rank]!;
    const waiters = sortedWaiters[rank]!;
    const waiterTids = new Map<number, Waiter[]>();
    for (const w of waiters) {
      const key = globalTid(w.thread.pid, w.thread.tid);
      waiterTids.set(key, [...(waiterTids.get(key) ?? []), w]);
    }
    const toCall = (r: { start: number; end: number; gt: number; name: string }): OsCall => ({
      thread: threadRefOf(trace, r.gt),
      name: r.name,
      startNs: r.start,
      endNs: r.end,
      durationNs: r.end - r.start,
      overlapNs: Math.min(r.end, h.e) - Math.max(r.start, h.s),
    });
    let holderOsCalls: OsCall[] | null = null;
    let otherOsCalls: OsCall[] | null = null;
    if (calls) {
      const mine = calls.filter((r) => r.i === rank);
      const holderKey = threadKey(h.gt);
      holderOsCalls = mine.filter((r) => threadKey(r.gt) === holderKey).map(toCall);
      otherOsCalls = mine
        .filter((r) => threadKey(r.gt) !== holderKey)
        // A waiter's condition-variable waits inside its GIL wait are the GIL itself, not news.
        .filter((r) => !(waiterTids.get(threadKey(r.gt)) ?? []).some((w) => r.start >= w.waitStartNs && r.end <= w.waitEndNs))
        .map(toCall);
      const byOverlap = (a: OsCall, b: OsCall) => b.overlapNs - a.overlapNs || a.startNs - b.startNs;
      holderOsCalls = holderOsCalls.sort(byOverlap).slice(0, maxListed);
      otherOsCalls = otherOsCalls.sort(byOverlap).slice(0, maxListed);
    }
    const concurrent: ConcurrentRange[] = ranges
      .filter((r) => r.i === rank)
      .sort((a, b) => a.start - b.start)
      .slice(0, maxListed)
      .map((r) => {
        const pid = pidOf(r.gt);
        return {
          domain: domainNameOf(trace, pid, r.domainId),
          name: r.name,
          pid,
          processName: trace.processes.get(pid)?.name ?? processName(trace, pid),
          thread: threadRefOf(trace, r.gt),
          startNs: r.start,
          endNs: r.end,
        };
      });
    const sampled = cpuSource === 'watchdog-samples' ? sampledCpu[rank] ?? null : null;
    const onCpu = sampled !== null ? Math.round(sampled * c.duration) : cpuSource === 'watchdog-samples' ? null : cpu[rank] ?? null;
    const fraction = sampled ?? (onCpu === null || c.duration <= 0 ? null : Math.min(1, Math.max(0, onCpu / c.duration)));
    const holderCpu: HolderCpu = { source: onCpu === null ? 'none' : cpuSource, onCpuNs: onCpu, onCpuFraction: fraction, state: cpuState(fraction) };
    const holder = activity[rank] ?? null;
    return {
      rank: rank + 1,
      gil: c.gil.key,
      pid: c.gil.pid,
      processName: trace.processes.get(c.gil.pid)?.name ?? `pid ${c.gil.pid}`,
      interpreterId: c.gil.interpreterId,
      thread: threadRef(trace, h.thread),
      startNs: h.s,
      endNs: h.e,
      durationNs: c.duration,
      waiterCount: new Set(waiters.map((w) => w.thread.tid)).size,
      blockedNs: waiters.reduce((a, w) => a + w.blockedNs, 0),
      waiters,
      dropRequestsDuring: c.dropRequests,
      where: where[rank]!,
      holderCpu,
      why: whyOf({ durationNs: c.duration, holder, holderCpu, holderOsCalls }),
      holder,
      holderOsCalls,
      otherOsCalls,
      concurrentRanges: concurrent,
    };
  });
}

/** The globalTid of a thread of the GIL scans (what the side tables are keyed by). */
function globalTidOf(trace: LoadedTrace, t: ThreadRef): number {
  return trace.threads.find((x) => x.pid === t.pid && x.tid === t.tid)?.globalTid ?? -1;
}

/** Name of any process in the trace (a Node process, say), or its pid. */
function processName(trace: LoadedTrace, pid: number): string {
  return trace.processNames.get(pid) ?? `pid ${pid}`;
}
