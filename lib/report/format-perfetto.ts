// Chrome trace-event JSON (opens in ui.perfetto.dev and chrome://tracing). The single writer for both
// `gil-nvtx report --perfetto` and `gil-nvtx trace --format perfetto`.
//  - processes and threads are named (metadata events);
//  - GIL waits and holds are complete ("X") slices on their thread, written in time order as the GIL's
//    scan yields them: they never overlap on one thread;
//  - every GIL also gets a lane of its own ("GIL (interpreter N)") showing who held it;
//  - other NVTX ranges are async slices: push/pop ranges share one id per thread, so they nest as a
//    stack; start/end ranges (which may cross threads and overlap) get one id each;
//  - marks, including GIL drop requests, are thread-scoped instants;
//  - the ranges of one request's tree (lib/nvtx/context-payload.ts) carry `context`/`parent` args, and a
//    flow arrow (bind_id, flow_out → flow_in) runs from each parent to each child;
//  - work sent to another process (a job for a Python worker) whose range carries the sender's
//    correlation id gets a `correlation` arg and a flow arrow from the range that sent it.
import { formatLocation, parseLocation } from './locations.js';
import type { BlamedHold, PyLocation } from './types.js';
import { fmtDuration } from './units.js';
import { DROP_REQUEST_MESSAGE, GIL_DOMAIN, HOLDING_MESSAGE, WAITING_MESSAGE } from '../gil-contract.js';
import { GilEventKind, domainNameOf, threadNameOf, type LoadedTrace } from './model.js';
import { hasColumns, nvtxTextSql } from './schema.js';
import { decodeContextPayload, decodeCorrelation } from '../nvtx/context-payload.js';
import { type ChunkWriter, writeOutputFile } from '../output-file.js';
import { NsysEventType, globalTid, pidOf, tidOf } from '../nsys/export-schema.js';

export interface PerfettoOptions {
  /** Also export NVTX ranges and marks outside the GIL domain (default true). */
  otherRanges?: boolean;
  /** The report's explained holds: each gets an instant at its start with its verdict and location. */
  blame?: BlamedHold[];
}

/** Synthetic tids for GIL lanes: far above Linux's pid_max (2^22). */
const GIL_LANE_TID = 1_000_000_000;

export function writePerfettoEvents(trace: LoadedTrace, out: ChunkWriter, opts: PerfettoOptions = {}): number {
  const t0 = trace.traceStart;
  const us = (ns: number) => Math.round(ns - t0) / 1000;
  let n = 0;
  let first = true;
  const emit = (ev: object) => {
    out.write(first ? `\n${JSON.stringify(ev)}` : `,\n${JSON.stringify(ev)}`);
    first = false;
    n++;
  };
  out.write('{"displayTimeUnit":"ns","otherData":{"producer":"gil-nvtx","source":');
  out.write(JSON.stringify(trace.source));
  out.write('},"traceEvents":[');

  const namedProcesses = new Set<number>();
  const namedThreads = new Set<number>();
  const processName = (pid: number) => {
    if (namedProcesses.has(pid)) return;
    namedProcesses.add(pid);
    emit({ ph: 'M', name: 'process_name', pid, tid: 0, args: { name: trace.processes.get(pid)?.name ?? trace.processNames.get(pid) ?? `pid ${pid}` } });
  };
  const threadName = (pid: number, tid: number, name: string) => {
    const key = globalTid(pid, tid);
    if (namedThreads.has(key)) return;
    namedThreads.add(key);
    processName(pid);
    emit({ ph: 'M', name: 'thread_name', pid, tid, args: { name } });
  };
  for (const t of trace.threads) threadName(t.pid, t.tid, t.name);

  trace.gils.forEach((gil, gi) => {
    const laneTid = GIL_LANE_TID + gi;
    threadName(gil.pid, laneTid, `GIL (interpreter ${gil.interpreterId})`);
    emit({ ph: 'M', name: 'thread_sort_index', pid: gil.pid, tid: laneTid, args: { sort_index: -1 } });
    const args = { interpreter: gil.interpreterId };
    const openArgs = { ...args, open: true };
    // Straight from the scan to the writer: waits, holds and drops interleaved in time order.
    gil.scan((kind, s, e, t, open) => {
      const th = trace.threads[t]!;
      if (kind === GilEventKind.drop) {
        emit({ ph: 'i', s: 't', cat: GIL_DOMAIN, name: DROP_REQUEST_MESSAGE, pid: th.pid, tid: th.tid, ts: us(s) });
        return;
      }
      const hold = kind === GilEventKind.hold;
      emit({ ph: 'X', cat: GIL_DOMAIN, name: hold ? HOLDING_MESSAGE : WAITING_MESSAGE, pid: th.pid, tid: th.tid, ts: us(s), dur: us(e) - us(s), args: open ? openArgs : args });
      if (hold) {
        emit({ ph: 'X', cat: GIL_DOMAIN, name: `held by ${th.name}`, pid: gil.pid, tid: laneTid, ts: us(s), dur: us(e) - us(s), args: { tid: th.tid, ...(open ? { open: true } : {}) } });
      }
    });
  });

  // The interpreter's location marks of long holds and waits, as instants on their threads.
  {
    const { expr: text, join } = nvtxTextSql(trace.schema, 'n');
    const sql =
      `SELECT n.start, n.globalTid, ${text} FROM NVTX_EVENTS AS n ${join} ` +
      `WHERE n.eventType = ${NsysEventType.mark} AND (${trace.gilRowFilter('n')})`;
    for (const [start, gt, name] of trace.db.prepare(sql).raw(true).iterate() as IterableIterator<[number, number, string | null]>) {
      if (name === null || !parseLocation(name)) continue;
      emit({ ph: 'i', s: 't', cat: GIL_DOMAIN, name, pid: pidOf(gt), tid: tidOf(gt), ts: us(start) });
    }
  }

  for (const b of opts.blame ?? []) {
    const where = (w: PyLocation | null) => (w ? formatLocation(w) : null);
    emit({
      ph: 'i', s: 't', cat: 'gil-nvtx report', name: `#${b.rank} ${fmtDuration(b.durationNs)} hold: ${b.why.summary}`, pid: b.thread.pid, tid: b.thread.tid, ts: us(b.startNs),
      args: { verdict: b.why.verdict, why: b.why.summary, taken: where(b.where.taken), released: where(b.where.released), blocked: b.waiterCount },
    });
  }

  if (opts.otherRanges !== false) {
    const { expr: text, join } = nvtxTextSql(trace.schema, 'n');
    // Tree payloads are uint64; a correlation id may come as either (the Python module writes int64).
    const payload = hasColumns(trace.schema, 'NVTX_EVENTS', ['int64Value', 'uint64Value'])
      ? 'COALESCE(n.uint64Value, n.int64Value)'
      : hasColumns(trace.schema, 'NVTX_EVENTS', ['uint64Value'])
        ? 'n.uint64Value'
        : 'NULL';
    // In start order, so a parent of a request's tree is written before its children.
    const sql =
      `SELECT n.start, n.end, n.eventType, n.globalTid, ${text}, n.domainId, ${payload} FROM NVTX_EVENTS AS n ${join} ` +
      `WHERE n.eventType IN (${NsysEventType.pushPop}, ${NsysEventType.startEnd}, ${NsysEventType.mark}) ` +
      `AND ${trace.nonGilRowFilter('n')} ORDER BY n.start`;
    let asyncId = 0;
    let flowId = 0;
    // Tree ranges seen so far (lib/nvtx/context-payload.ts), by thread and context id: their async slice.
    const treeSlices = new Map<string, { id: string; name: string; cat: string }>();
    /** The same slices by process and context id (what a correlation id names), in start order. */
    const senders = new Map<string, { id: string; name: string; cat: string; pid: number; tid: number; end: number }[]>();
    /** An instant on `from`'s async track at `ts` that starts a flow; the flow_in fields for its target. */
    const flowFrom = (from: { id: string; name: string; cat: string }, fromPid: number, fromTid: number, ts: number) => {
      const bind = `ctx-${++flowId}`;
      emit({ ph: 'n', cat: from.cat, name: from.name, pid: fromPid, tid: fromTid, id: from.id, ts: us(ts), bind_id: bind, flow_out: true });
      return { bind_id: bind, flow_in: true as const };
    };
    for (const [start, end, type, gt, name, domainId, context] of trace.db.prepare(sql).raw(true).iterate() as IterableIterator<
      [number, number | null, number, number, string | null, number | null, number | null]
    >) {
      const pid = pidOf(gt);
      const tid = tidOf(gt);
      threadName(pid, tid, threadNameOf(trace.threadNames, gt, pid, tid));
      const domain = domainNameOf(trace, pid, domainId);
      const label = name ?? '';
      if (type === NsysEventType.mark) {
        emit({ ph: 'i', s: 't', cat: domain, name: label, pid, tid, ts: us(start) });
        continue;
      }
      const stop = end ?? trace.traceEnd;
      const id = type === NsysEventType.pushPop ? `pushpop-${pid}-${tid}` : `range-${++asyncId}`;
      const ctx = type === NsysEventType.startEnd ? decodeContextPayload(context) : null;
      const args: Record<string, unknown> = end === null ? { open: true } : {};
      let flowIn: { bind_id: string; flow_in: true } | null = null;
      if (ctx) {
        args.context = ctx.self;
        const parent = ctx.parent === 0 ? undefined : treeSlices.get(`${gt}/${ctx.parent}`);
        if (parent) {
          args.parent = ctx.parent;
          // A flow from parent to child: an instant on the parent's async track starts it, the child's slice ends it.
          flowIn = flowFrom(parent, pid, tid, start);
        }
        const slice = { id, name: label, cat: domain };
        treeSlices.set(`${gt}/${ctx.self}`, slice);
        const key = `${pid}/${ctx.self}`;
        let list = senders.get(key);
        if (!list) senders.set(key, (list = []));
        list.push({ ...slice, pid, tid, end: stop });
      }
      const correlation = ctx ? null : decodeCorrelation(context);
      if (correlation) {
        args.correlation = `${correlation.pid}/${correlation.context}`;
        // The sender: the latest range of that process with that context id open when the work began.
        const list = senders.get(`${correlation.pid}/${correlation.context}`) ?? [];
        let i = list.length - 1;
        while (i >= 0 && list[i]!.end < start) i--;
        const from = list[i];
        if (from) flowIn = flowFrom(from, from.pid, from.tid, start);
      }
      emit({ ph: 'b', cat: domain, name: label, pid, tid, id, ts: us(start), args, ...flowIn });
      emit({ ph: 'e', cat: domain, name: label, pid, tid, id, ts: us(stop) });
    }
  }
  out.write('\n]}\n');
  return n;
}

/** Writes the trace as Chrome trace-event JSON to `file` (whole or not at all, see lib/output-file.ts); returns the number of events. */
export function writePerfetto(trace: LoadedTrace, file: string, opts: PerfettoOptions = {}): number {
  let n = 0;
  writeOutputFile(file, (out) => {
    n = writePerfettoEvents(trace, out, opts);
  });
  return n;
}
