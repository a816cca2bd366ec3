// The Node event-loop blocks that instrumentEventLoop() recorded (lib/instrument/event-loop-contract.ts):
// ranges named `event loop blocked` in the `node:event-loop` domain, started by a watcher thread once the
// watched loop had been silent for a while. The block itself is [start - payload, end] on the loop of
// the thread whose OS tid is the range's category.
import { EVENT_LOOP_BLOCKED, EVENT_LOOP_DOMAIN } from '../instrument/event-loop-contract.js';
import type { LoadedTrace } from './model.js';
import { hasColumns, nvtxTextSql } from './schema.js';
import { fmtDuration } from './units.js';
import { NsysEventType, pidOf } from '../nsys/export-schema.js';

export interface LoopBlock {
  pid: number;
  /** OS thread id of the blocked event loop. */
  tid: number;
  startNs: number;
  endNs: number;
}

/** True for the domain the event-loop ranges live in (the slow-operation search leaves them out). */
export function isEventLoopDomain(name: string | undefined): boolean {
  return name === EVENT_LOOP_DOMAIN;
}

/** Every block in the trace, by pid; pids without the instrumentation are absent. Null when the trace cannot say (no category or int64 payload column). */
export function eventLoopBlocks(trace: LoadedTrace): Map<number, LoopBlock[]> | null {
  if (!hasColumns(trace.schema, 'NVTX_EVENTS', ['category', 'int64Value'])) return null;
  const domains = [...trace.domainNames].filter(([, name]) => isEventLoopDomain(name)).map(([key]) => key);
  const byPid = new Map<number, LoopBlock[]>();
  if (domains.length === 0) return byPid;
  for (const key of domains) byPid.set(Number(key.split('/')[0]), []);
  const ids = [...new Set(domains.map((key) => Number(key.split('/')[1])))];
  const { expr, join } = nvtxTextSql(trace.schema, 'n');
  const rows = trace.db
    .prepare(
      `SELECT n.start, COALESCE(n.end, ${Math.trunc(trace.traceEnd)}), n.globalTid, n.domainId, n.category, COALESCE(n.int64Value, 0), ${expr} ` +
        `FROM NVTX_EVENTS AS n ${join} WHERE n.eventType = ${NsysEventType.startEnd} AND n.domainId IN (${ids.join(', ')})`,
    )
    .raw(true)
    .all() as [number, number, number, number, number | null, number, string | null][];
  for (const [start, end, gt, domainId, category, silentNs, name] of rows) {
    const pid = pidOf(gt);
    if (name !== EVENT_LOOP_BLOCKED || !isEventLoopDomain(trace.domainNames.get(`${pid}/${domainId}`))) continue;
    byPid.get(pid)!.push({ pid, tid: category ?? 0, startNs: start - Math.max(0, silentNs), endNs: end });
  }
  return byPid;
}

/** How long the event loop of thread `tid` of `pid` was blocked within [startNs, endNs]; null when that process did not record blocks. */
export function blockedDuring(
  blocks: Map<number, LoopBlock[]> | null,
  pid: number,
  tid: number,
  startNs: number,
  endNs: number,
): { blockedNs: number; blocks: number } | null {
  const list = blocks?.get(pid);
  if (!list) return null;
  let blockedNs = 0;
  let count = 0;
  for (const b of list) {
    if (b.tid !== tid) continue;
    const overlap = Math.min(b.endNs, endNs) - Math.max(b.startNs, startNs);
    if (overlap <= 0) continue;
    blockedNs += overlap;
    count++;
  }
  return { blockedNs, blocks: count };
}

/** The line the text and HTML reports print for a slow range. */
export function eventLoopText(e: { blockedNs: number; blocks: number }): string {
  return e.blocks === 0
    ? 'Node event loop not blocked during it'
    : `Node event loop blocked ${fmtDuration(e.blockedNs)} during it (${e.blocks} block${e.blocks === 1 ? '' : 's'})`;
}
