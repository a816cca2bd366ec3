// What the mixed example's report must say about who served its slow requests, whatever tool traced it:
// checked against what the workers themselves logged (examples/mixed/run.mjs --served-log).
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
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
export function slowRequests(report: Report): SlowRange[] {
  return report.slowRanges.filter((r) => r.domain === 'mixed: http' && /^GET \/(predict|report|ingest)$/.test(r.name));
}

const inWorker = (file: string | undefined) => file !== undefined && file.endsWith('examples/mixed/worker.py');

/** Every "served by" names the process and thread that logged running that job; returns the entries. */
export function expectServedByMatchesWorkers(report: Report, served: ServedLine[]): ServedBy[] {
  const byCorrelation = new Map(served.map((s) => [s.correlation, s]));
  const requests = slowRequests(report);
  expect(requests.length, 'slow server requests in the report').toBeGreaterThan(0);
  const all: ServedBy[] = [];
  for (const r of requests) {
    // Every request runs at least one job, and each job carries its correlation id.
    expect(r.servedBy, `${r.name} at ${r.startNs}`).not.toBeNull();
    expect(r.servedBy!.length, `${r.name} at ${r.startNs}`).toBeGreaterThan(0);
    for (const s of r.servedBy!) {
      const logged = byCorrelation.get(s.correlationId);
      expect(logged, `the worker logged correlation ${s.correlationId}`).toBeDefined();
      expect({ pid: s.pid, tid: s.thread.tid, job: s.name }).toEqual({ pid: logged!.pid, tid: logged!.tid, job: `job ${logged!.kind}` });
      // The job ran inside the request.
      expect(s.startNs).toBeGreaterThanOrEqual(r.startNs);
      expect(s.endNs).toBeLessThanOrEqual(r.endNs);
      all.push(s);
    }
  }
  return all;
}

/**
 * Some slow request is traced to the 200 ms hold that stalled it: either its own job was the stall (the
 * serving thread held the GIL itself that long), or its job waited behind another thread's hold, and
 * that thread is one that ran a stall job. Either way, where in worker.py the holder was.
 */
export function expectStallFound(entries: ServedBy[], served: ServedLine[]): void {
  const stallThreads = new Set(served.filter((s) => s.kind === 'stall').map((s) => `${s.pid}/${s.tid}`));
  const own = entries.filter((s) => s.name === 'job stall' && (s.longestHold?.holdNs ?? 0) > 150_000_000 && inWorker(s.longestHold?.where?.file));
  const behind = entries.filter(
    (s) => s.stalledBy !== null && s.stalledBy.blockedNs > 100_000_000 && stallThreads.has(`${s.pid}/${s.stalledBy.thread.tid}`) && inWorker(s.stalledBy.where?.file),
  );
  expect(own.length + behind.length, JSON.stringify(entries, null, 1)).toBeGreaterThan(0);
  for (const s of behind) expect(s.gilWaitNs).toBeGreaterThanOrEqual(s.stalledBy!.blockedNs);
}

/** The text and HTML reports say it in the same words as the JSON. */
export function expectSentences(text: string, html: string, entries: ServedBy[]): void {
  for (const s of entries) {
    const head = `served by worker pid ${s.pid} thread ${s.thread.name} (tid ${s.thread.tid}), which waited`;
    expect(text).toContain(head);
    expect(html).toContain(head);
  }
  expect(text).toMatch(/served by worker pid \d+ thread \S+ \(tid \d+\), which waited [\d.]+ [mµn]?s for the GIL.* in \w+\(\) at examples\/mixed\/worker\.py:\d+/);
}
