// What the mixed example's report must say about who served its slow requests, whatever tool traced it:
// checked against what the workers themselves logged (examples/mixed/run.mjs --served-log).
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { loadTrace } from '../../lib/report/load.js';
import { slowRanges } from '../../lib/report/slow-ranges.js';
import { writePerfettoEvents } from '../../lib/report/format-perfetto.js';
import { decodeCorrelation } from '../../lib/nvtx/context-payload.js';
import type { Report, ServedBy, SlowRange } from '../../lib/report/types.js';

export interface ServedLine {
  correlation: number;
  kind: string;
  pid: number;
  tid: number;
}

export function readServedLog(path: string): ServedLine[] {
  return readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ServedLine);
}

/** The slow server-side requests of the report (`GET /predict`, not the load generator's `GET 127.0.0.1/…`). */
export function slowRequests(report: Pick<Report, 'slowRanges'>): SlowRange[] {
  return report.slowRanges.filter((r) => r.domain === 'mixed: http' && /^GET \/(predict|report|ingest)$/.test(r.name));
}

/**
 * Who served every request of the trace, not only the report's few slowest: on a loaded machine the
 * slowest few need not include one that met a stall, but every run has requests that did.
 */
export async function everyRequestServedBy(tracePath: string): Promise<ServedBy[]> {
  const trace = await loadTrace(tracePath);
  try {
    return slowRequests({ slowRanges: slowRanges(trace, { top: 1_000, maxHolds: 0 }) }).flatMap((r) => r.servedBy ?? []);
  } finally {
    trace.close();
  }
}

const inWorker = (file: string | undefined) => file !== undefined && file.endsWith('examples/mixed/worker.py');

/** Each entry names the process and thread that logged running that job, and the job it ran. */
export function expectEntriesMatchWorkers(entries: ServedBy[], served: ServedLine[]): void {
  const byCorrelation = new Map(served.map((s) => [s.correlation, s]));
  for (const s of entries) {
    const logged = byCorrelation.get(s.correlationId);
    expect(logged, `the worker logged correlation ${s.correlationId}`).toBeDefined();
    expect({ pid: s.pid, tid: s.thread.tid, job: s.name }).toEqual({ pid: logged!.pid, tid: logged!.tid, job: `job ${logged!.kind}` });
  }
}

/** Every slow request of the report ran at least one job inside it, each named as the workers logged it; returns the entries. */
export function expectServedByMatchesWorkers(report: Report, served: ServedLine[]): ServedBy[] {
  const requests = slowRequests(report);
  expect(requests.length, `slow server requests among ${JSON.stringify(report.slowRanges.map((r) => [r.domain, r.name, r.durationNs]))}`).toBeGreaterThan(0);
  const all: ServedBy[] = [];
  for (const r of requests) {
    expect(r.servedBy, `${r.name} at ${r.startNs}`).not.toBeNull();
    expect(r.servedBy!.length, `${r.name} at ${r.startNs}`).toBeGreaterThan(0);
    for (const s of r.servedBy!) {
      expect(s.startNs).toBeGreaterThanOrEqual(r.startNs);
      expect(s.endNs).toBeLessThanOrEqual(r.endNs);
      // The Node range that sent it was found, and started first.
      expect(s.queuedNs).not.toBeNull();
      expect(s.queuedNs!).toBeGreaterThanOrEqual(0);
      all.push(s);
    }
  }
  expectEntriesMatchWorkers(all, served);
  return all;
}

/** Over all requests: every job a worker ran is the answer for exactly one request, as that worker logged it. */
export function expectEveryJobFound(entries: ServedBy[], served: ServedLine[]): void {
  expectEntriesMatchWorkers(entries, served);
  expect(entries.map((s) => s.correlationId).sort((a, b) => a - b)).toEqual(served.map((s) => s.correlation).sort((a, b) => a - b));
}

/**
 * Some slow request is traced to the 200 ms hold that stalled it: either its own job was the stall (the
 * serving thread held the GIL itself that long), or its job waited behind another thread's hold, and
 * that thread is one that ran a stall job. Either way, where in worker.py the holder was.
 */
export function expectStallFound(entries: ServedBy[], served: ServedLine[]): void {
  const stallThreads = new Set(served.filter((s) => s.kind === 'stall').map((s) => `${s.pid}/${s.tid}`));
  const own = entries.filter(
    (s) => s.name === 'job stall' && (s.longestHold?.holdNs ?? 0) > 150_000_000 && (inWorker(s.longestHold?.taken?.file) || inWorker(s.longestHold?.released?.file)),
  );
  const behind = entries.filter(
    (s) => s.stalledBy !== null && s.stalledBy.blockedNs > 100_000_000 && stallThreads.has(`${s.pid}/${s.stalledBy.thread.tid}`) && inWorker(s.stalledBy.where?.file),
  );
  expect(own.length + behind.length, JSON.stringify(entries, null, 1)).toBeGreaterThan(0);
  for (const s of behind) expect(s.gilWaitNs).toBeGreaterThanOrEqual(s.stalledBy!.blockedNs);
}

/** The text and HTML reports say it in the same words as the JSON. */
export function expectSentences(text: string, html: string, entries: ServedBy[]): void {
  for (const s of entries) {
    const head = `served by worker pid ${s.pid} thread ${s.thread.name} (tid ${s.thread.tid}), which ${s.stalledBy || (s.longestHold?.holdNs ?? 0) < s.gilWaitNs ? 'waited' : 'held'}`;
    expect(text).toContain(head);
    expect(html).toContain(head);
  }
  expect(text).toMatch(/served by worker pid \d+ thread \S+ \(tid \d+\), which (waited [\d.]+ [mµn]?s for|held) the GIL.* in \w+\(\) at examples\/mixed\/worker\.py:\d+/);
  expect(html).toMatch(/served by worker pid \d+ thread \S+ \(tid \d+\), which (waited [\d.]+ [mµn]?s for|held) the GIL.* in \w+\(\) at \S*examples\/mixed\/worker\.py:\d+/);
}

/**
 * The Perfetto export draws each job as sent by its request: every job the workers logged is one slice
 * on the worker's thread carrying its correlation id, which a flow arrow enters from an instant on the
 * async track of the Node range that sent it (its process, its context id).
 */
export async function expectJobFlows(tracePath: string, served: ServedLine[]): Promise<void> {
  const trace = await loadTrace(tracePath);
  let json = '';
  try {
    writePerfettoEvents(trace, { write: (chunk: string) => (json += chunk) });
  } finally {
    trace.close();
  }
  const events = (JSON.parse(json) as { traceEvents: Record<string, any>[] }).traceEvents;
  const begins = events.filter((e) => e.ph === 'b');
  const flowOut = new Map(events.filter((e) => e.ph === 'n' && e.flow_out).map((e) => [e.bind_id as string, e]));
  for (const job of served) {
    const c = decodeCorrelation(job.correlation)!;
    const slices = begins.filter((b) => b.args.correlation === `${c.pid}/${c.context}`);
    expect(slices.map((b) => [b.pid, b.tid]), `the job of correlation ${job.correlation}`).toEqual([[job.pid, job.tid]]);
    expect(slices[0]!.flow_in, `a flow enters the job of correlation ${job.correlation}`).toBe(true);
    const from = flowOut.get(slices[0]!.bind_id)!;
    expect(from.pid, 'the flow starts in the Node process that sent the job').toBe(c.pid);
    const sender = begins.find((b) => b.pid === from.pid && b.id === from.id && b.args.context === c.context);
    expect(sender, `the sending range of correlation ${job.correlation}`).toBeDefined();
    expect(from.ts).toBeGreaterThanOrEqual(sender!.ts);
  }
}

