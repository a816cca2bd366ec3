// Which worker served a slow request. Work sent to another process (a job for a Python worker) runs in
// a range whose payload is the sender's correlation id (lib/nvtx/context-payload.ts): the Node process
// and the context id of the range that sent it. That range, and its parents through the tree payloads,
// lead to the request; the job's own thread and GIL say what the request waited for: how long that
// thread waited for the GIL during the job, and which other thread's hold it waited behind, in which
// Python function (the patch's location marks).
import { holdLocations } from './locations.js';
import { GilEventKind, domainNameOf, type GilRanges, type LoadedTrace } from './model.js';
import type { GilPass, GilPassScan } from './scan.js';
import type { PyLocation, ServedBy, ThreadRef } from './types.js';
import { fmtDuration, safeText } from './units.js';
import { threadRefOf } from './validate.js';
import { CONTEXT_TAG, decodeContextPayload, decodeCorrelation } from '../nvtx/context-payload.js';
import { NsysEventType, pidOf, pidOfSql } from '../nsys/export-schema.js';

/** A range whose jobs are wanted: its thread and span. */
export interface LinkWindow {
  gt: number;
  start: number;
  end: number;
}

/** A range of the trace whose payload is a correlation id (as the slow-range pass reads them). */
export interface CorrelatedRange extends LinkWindow {
  name: string;
  domainId: number;
  correlation: number;
}

interface Job {
  gt: number;
  start: number;
  end: number;
  name: string;
  domainId: number;
  correlation: number;
  /** Start of the range that sent it (null: not found). */
  sentNs: number | null;
}

interface TreeRange {
  gt: number;
  start: number;
  end: number | null;
  self: number;
  parent: number;
}

const rangeKey = (gt: number, start: number) => `${gt}/${start}`;

/** The latest range of `list` (sorted by start) that started at or before `at`, and is open at `at` when `open` is set. */
function latestAtOrBefore(list: TreeRange[] | undefined, at: number, open: boolean): TreeRange | null {
  if (!list) return null;
  for (let i = list.length - 1; i >= 0; i--) {
    const r = list[i]!;
    if (r.start > at) continue;
    if (open && r.end !== null && r.end < at) return null;
    return r;
  }
  return null;
}

/**
 * For each of a few ranges (the slow candidates), the correlated jobs it led to: jobs it sent directly or
 * through its children, or itself when it is one. Only what starts inside those ranges is read (a job
 * and every range of its sender's tree begin inside the request they serve), so memory follows the
 * candidates, not the length of the trace. `null` when the trace has no correlated job at all: the
 * report then says only what overlapped in time, as it does without correlation.
 */
export class JobLinks {
  private constructor(private readonly byRange: Map<string, Job[]>) {}

  static read(trace: LoadedTrace, ranges: LinkWindow[], correlated: CorrelatedRange[]): JobLinks | null {
    if (ranges.length === 0 || correlated.length === 0) return null;
    const jobs = correlated
      .filter((j) => ranges.some((r) => j.start >= r.start && j.start <= r.end))
      .map((j): Job => ({ gt: j.gt, start: j.start, end: j.end, name: j.name, domainId: j.domainId, correlation: j.correlation, sentNs: null }));
    const windows = ranges.map((r) => `(${Math.trunc(r.start)}, ${Math.ceil(r.end)})`).join(', ');
    const inWindow = `EXISTS (SELECT 1 FROM w WHERE n.start >= w.s AND n.start <= w.e)`;

    // The tree ranges of the processes that sent them, by (pid, own id) and by (thread, own id).
    const senders = [...new Set(jobs.map((j) => decodeCorrelation(j.correlation)?.pid).filter((p): p is number => p !== undefined))];
    const byPidSelf = new Map<string, TreeRange[]>();
    const byThreadSelf = new Map<string, TreeRange[]>();
    if (senders.length > 0) {
      const rows = trace.db
        .prepare(
          `WITH w(s, e) AS (VALUES ${windows}) SELECT n.globalTid, n.start, n.end, n.uint64Value FROM NVTX_EVENTS AS n WHERE n.eventType = ${NsysEventType.startEnd} ` +
            `AND n.uint64Value >= ${CONTEXT_TAG} AND n.uint64Value < ${2 * CONTEXT_TAG} AND ${pidOfSql('n.globalTid')} IN (${senders.join(', ')}) AND ${inWindow} ORDER BY n.start`,
        )
        .raw(true)
        .all() as [number, number, number | null, number][];
      for (const [gt, start, end, value] of rows) {
        const ctx = decodeContextPayload(value);
        if (!ctx) continue;
        const r: TreeRange = { gt, start, end, self: ctx.self, parent: ctx.parent };
        for (const [map, key] of [[byPidSelf, `${pidOf(gt)}/${ctx.self}`], [byThreadSelf, `${gt}/${ctx.self}`]] as const) {
          let list = map.get(key);
          if (!list) map.set(key, (list = []));
          list.push(r);
        }
      }
    }

    const byRange = new Map<string, Job[]>();
    const link = (r: { gt: number; start: number }, job: Job) => {
      const key = rangeKey(r.gt, r.start);
      let list = byRange.get(key);
      if (!list) byRange.set(key, (list = []));
      list.push(job);
    };
    for (const job of jobs) {
      link(job, job);
      const c = decodeCorrelation(job.correlation)!;
      // The sender: the range of that process with that id that was open when the job began.
      let cur = latestAtOrBefore(byPidSelf.get(`${c.pid}/${c.context}`), job.start, true);
      job.sentNs = cur?.start ?? null;
      // Up the tree to the root (a request); ids are per thread, and a parent starts before its child.
      for (let depth = 0; cur !== null && depth < 64; depth++) {
        link(cur, job);
        cur = cur.parent === 0 ? null : latestAtOrBefore(byThreadSelf.get(`${cur.gt}/${cur.parent}`), cur.start, false);
      }
    }
    return new JobLinks(byRange);
  }

  /** The jobs a range sent (itself, if it is one), in start order. */
  jobsOf(r: { gt: number; start: number }): Job[] {
    return [...(this.byRange.get(rangeKey(r.gt, r.start)) ?? [])].sort((a, b) => a.start - b.start);
  }

  static key(job: Job): string {
    return rangeKey(job.gt, job.start);
  }
}

interface JobGil {
  job: Job;
  waits: { s: number; e: number }[];
  holds: { s: number; e: number; t: number }[];
  /** The job thread's own holds during the job. */
  own: { s: number; e: number }[];
  /** While the job was on its way (sent, not begun): the longest overlapping hold of the serving process, by any thread. */
  queue: OtherHold | null;
}

/** Another thread's hold (thread index `t`) and how much of it counts (`overlap`). */
type OtherHold = { s: number; e: number; t: number; overlap: number };

/**
 * From the serving process's GIL scans: for each job, the GIL waits of its own thread during it, and the
 * holds of other threads of that GIL during it (the candidates for what it waited behind).
 */
export class ServedByPass implements GilPass {
  readonly byJob = new Map<string, JobGil>();
  private readonly byPid = new Map<number, Job[]>();
  constructor(private readonly trace: LoadedTrace, jobs: Job[]) {
    for (const job of jobs) {
      const pid = pidOf(job.gt);
      let list = this.byPid.get(pid);
      if (!list) this.byPid.set(pid, (list = []));
      if (!this.byJob.has(JobLinks.key(job))) {
        list.push(job);
        this.byJob.set(JobLinks.key(job), { job, waits: [], holds: [], own: [], queue: null });
      }
    }
  }
  gil(gil: GilRanges): GilPassScan | null {
    const jobs = this.byPid.get(gil.pid);
    if (!jobs || jobs.length === 0) return null;
    const threads = this.trace.threads;
    const states = jobs.map((j) => this.byJob.get(JobLinks.key(j))!);
    // Each GIL of the process on its own: a job's waits and the holds it waited behind share one GIL.
    const local = states.map(() => ({ waits: [] as { s: number; e: number }[], holds: [] as { s: number; e: number; t: number }[], own: [] as { s: number; e: number }[] }));
    return {
      visit: (kind, s, e, t) => {
        if (kind === GilEventKind.drop) return;
        const gt = threads[t]!.globalTid;
        for (let i = 0; i < states.length; i++) {
          const st = states[i]!;
          const job = st.job;
          if (kind === GilEventKind.hold && job.sentNs !== null && e > job.sentNs && s < job.start) {
            // A worker whose reader thread cannot take the GIL cannot even pick the job up.
            const overlap = Math.min(e, job.start) - Math.max(s, job.sentNs);
            if (st.queue === null || overlap > st.queue.overlap) st.queue = { s, e, t, overlap };
          }
          if (e <= job.start || s >= job.end) continue;
          if (kind === GilEventKind.wait && gt === job.gt) local[i]!.waits.push({ s: Math.max(s, job.start), e: Math.min(e, job.end) });
          else if (kind === GilEventKind.hold && gt !== job.gt) local[i]!.holds.push({ s, e, t });
          else if (kind === GilEventKind.hold) local[i]!.own.push({ s, e });
        }
      },
      done: () => {
        local.forEach((l, i) => {
          const st = states[i]!;
          // Keep the GIL the job's thread used (the one with its waits or holds).
          if (l.waits.length > 0 || l.own.length > 0 || (st.waits.length === 0 && st.own.length === 0 && st.holds.length === 0)) {
            st.waits = l.waits;
            st.holds = l.holds;
            st.own = l.own;
          }
        });
      },
    };
  }

  /** What each job's record says, for the jobs of one range. */
  servedBy(jobs: Job[]): ServedBy[] {
    const { trace } = this;
    const picked = jobs.map((job) => {
      const st = this.byJob.get(JobLinks.key(job))!;
      const waitNs = st.waits.reduce((sum, w) => sum + (w.e - w.s), 0);
      let best: OtherHold | null = null;
      for (const h of st.holds) {
        let overlap = 0;
        for (const w of st.waits) overlap += Math.max(0, Math.min(h.e, w.e) - Math.max(h.s, w.s));
        if (overlap > 0 && (best === null || overlap > best.overlap)) best = { ...h, overlap };
      }
      let own: { s: number; e: number } | null = null;
      for (const h of st.own) if (own === null || h.e - h.s > own.e - own.s) own = h;
      const heldNs = st.own.reduce((sum, h) => sum + Math.min(h.e, job.end) - Math.max(h.s, job.start), 0);
      return { job, waitNs, best, own, heldNs, queue: st.queue };
    });
    // One location query for every hold named: the one waited behind, and the job thread's longest own.
    const queries: { gt: number; s: number; e: number }[] = [];
    const slots = picked.map((p) => {
      const slot = { best: -1, own: -1, queue: -1 };
      if (p.best) slot.best = queries.push({ gt: trace.threads[p.best.t]!.globalTid, s: p.best.s, e: p.best.e }) - 1;
      if (p.queue) slot.queue = queries.push({ gt: trace.threads[p.queue.t]!.globalTid, s: p.queue.s, e: p.queue.e }) - 1;
      if (p.own) slot.own = queries.push({ gt: p.job.gt, s: p.own.s, e: p.own.e }) - 1;
      return slot;
    });
    const where = holdLocations(trace, queries);
    // Where another thread let go of the GIL is where it was while the job waited (where it took it when
    // that frame had returned by then).
    const at = (i: number) => (i < 0 ? null : (where[i]!.released ?? where[i]!.taken ?? null));
    /** Another thread's hold as `stalledBy` and `queuedBehind` report it; `slot` indexes its location. */
    const otherHold = (h: OtherHold | null, slot: number): ServedBy['stalledBy'] =>
      h
        ? {
            thread: threadRefOf(trace, trace.threads[h.t]!.globalTid),
            holdStartNs: h.s,
            holdEndNs: h.e,
            holdNs: h.e - h.s,
            blockedNs: h.overlap,
            where: at(slot),
          }
        : null;
    return picked.map((p, i) => {
      const pid = pidOf(p.job.gt);
      return {
        domain: domainNameOf(trace, pid, p.job.domainId),
        name: p.job.name,
        correlationId: p.job.correlation,
        pid,
        processName: trace.processNames.get(pid) ?? `pid ${pid}`,
        thread: threadRefOf(trace, p.job.gt),
        startNs: p.job.start,
        endNs: p.job.end,
        durationNs: p.job.end - p.job.start,
        queuedNs: p.job.sentNs === null ? null : p.job.start - p.job.sentNs,
        gilWaitNs: p.waitNs,
        gilHeldNs: p.heldNs,
        longestHold: p.own ? { startNs: p.own.s, endNs: p.own.e, holdNs: p.own.e - p.own.s, ...(where[slots[i]!.own] ?? { taken: null, released: null }) } : null,
        stalledBy: otherHold(p.best, slots[i]!.best),
        queuedBehind: otherHold(p.queue, slots[i]!.queue),
      };
    });
  }
}

/**
 * The answer in one sentence: which worker process and thread ran the job, what it waited for (the hold
 * of another thread it waited behind longest, and where that thread was), and its own longest hold
 * when that was longer than its wait (a job that stalls everyone else itself).
 */
export function servedBySentence(s: ServedBy, at: (w: PyLocation) => string): string {
  const who = (t: ThreadRef) => `${safeText(t.name)} (tid ${t.tid})`;
  const where = (w: PyLocation | null) => (w ? ` in ${at(w)}` : '');
  const held = s.longestHold !== null && s.longestHold.holdNs >= s.gilWaitNs ? s.longestHold : null;
  let text = `served by worker pid ${s.pid} thread ${who(s.thread)}`;
  if (s.stalledBy) text += `, which waited ${fmtDuration(s.gilWaitNs)} for the GIL held by thread ${who(s.stalledBy.thread)}${where(s.stalledBy.where)}`;
  else if (!held) text += `, which waited ${fmtDuration(s.gilWaitNs)} for the GIL`;
  if (held) {
    // Both ends: a hold can begin before the job or outlast it, so neither alone says where the job was.
    const ends = [held.taken ? `taken in ${at(held.taken)}` : '', held.released ? `released in ${at(held.released)}` : ''].filter(Boolean).join(', ');
    text += `${s.stalledBy ? ', and held it itself' : ', which held the GIL itself'} for ${fmtDuration(held.holdNs)}${ends ? ` (${ends})` : ''}`;
  }
  // Waiting to be picked up counts when a hold filled most of it: the worker could not even read the job.
  const behind = s.queuedBehind !== null && s.queuedNs !== null && s.queuedBehind.blockedNs * 2 >= s.queuedNs ? s.queuedBehind : null;
  const queued =
    s.queuedNs === null
      ? ''
      : `, ${fmtDuration(s.queuedNs)} after it was sent${behind ? `, while thread ${who(behind.thread)} held the worker's GIL for ${fmtDuration(behind.blockedNs)} of it${where(behind.where)}` : ''}`;
  return `${text}; ${safeText(s.name)} took ${fmtDuration(s.durationNs)}${queued}`;
}
