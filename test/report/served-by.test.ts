// Which worker served a slow request, on a synthetic trace: a Node request whose child job range sent a
// job (correlation id) that a Python thread ran while it waited behind the planted 200 ms hold.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { formatText } from '../../lib/report/format-text.js';
import { contextPayload, correlationPayload, decodeCorrelation } from '../../lib/nvtx/context-payload.js';
import { fixture, reportOf } from './helpers.js';

function plant(path: string, planted: { tid: number; start: number; end: number }, nodePid: number) {
  const db = new Database(path);
  try {
    // A thread that waited for the GIL through the whole planted hold.
    const waiter = db
      .prepare(
        `SELECT start, end, globalTid AS gt, globalTid & 16777215 AS tid FROM NVTX_EVENTS WHERE eventType = 60 AND textId = (SELECT id FROM StringIds WHERE value = 'Waiting for GIL')
          AND start < ? AND end >= ? AND (globalTid & 16777215) != ? ORDER BY start LIMIT 1`,
      )
      .get(planted.start, planted.end, planted.tid) as { start: number; end: number; gt: number; tid: number };
    // The globalTids as the trace writes them (an nsys export's have a high part).
    const gtOf = (text: string, at: number) => (db.prepare('SELECT globalTid AS gt FROM NVTX_EVENTS WHERE (text = ? OR textId = (SELECT id FROM StringIds WHERE value = ?)) AND start = ?').get(text, text, at) as { gt: number }).gt;
    const ins = db.prepare(
      'INSERT INTO NVTX_EVENTS (start, end, eventType, rangeId, text, globalTid, endGlobalTid, domainId, uint64Value, int64Value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const node = (db.prepare("SELECT globalTid AS gt FROM NVTX_EVENTS WHERE text = 'request /predict'").get() as { gt: number }).gt;
    const request = { start: waiter.start - 20_000_000, end: planted.end + 5_000_000 };
    // Two requests of one name (a repeated operation), the slow one the root of a tree with a job child.
    ins.run(request.start, request.end, 60, 9001, 'GET /predict', node, node, 1, contextPayload(0, 7), null);
    ins.run(1_000, 2_000, 60, 9002, 'GET /predict', node, node, 1, contextPayload(0, 8), null);
    ins.run(request.start + 1_000_000, request.end - 1_000_000, 60, 9003, 'job cpu', node, node, 1, contextPayload(7, 9), null);
    // The worker's own range around the job, in a domain of its own, carrying the Node job's correlation id.
    const py = waiter.gt;
    ins.run(waiter.start - 100_000, null, 75, null, 'mixed: worker', py, null, 2, null, null);
    ins.run(waiter.start - 1_000, waiter.end + 1_000, 59, null, 'job cpu', py, null, 2, null, correlationPayload(nodePid, 9));
    // A job naming the quick request, which had ended before the job began: linked to nothing.
    ins.run(waiter.end + 2_000, waiter.end + 3_000, 59, null, 'job cpu', py, null, 2, null, correlationPayload(nodePid, 8));
    // Where the holder was when it let go (the patch's location mark, in the GIL domain on its thread).
    const holder = gtOf('Holding GIL', planted.start);
    ins.run(planted.end - 100, null, 34, null, 'GIL released at run_job (/srv/worker.py:58)', holder, null, 1, null, null);
    return { waiter, request };
  } finally {
    db.close();
  }
}

describe('which worker served a slow request', () => {
  it('follows the request through its job to the serving thread and the hold it waited behind', async () => {
    const t = fixture('served-by');
    const { waiter, request } = plant(t.path, t.planted!, t.nodePid);
    const report = await reportOf(t.path, { top: 5 });
    const slow = report.slowRanges.find((r) => r.name === 'GET /predict' && r.durationNs > 100_000_000);
    expect(slow).toBeDefined();
    expect(slow!.servedBy).toHaveLength(1);
    const [s] = slow!.servedBy!;
    expect(s).toMatchObject({
      domain: 'mixed: worker',
      name: 'job cpu',
      correlationId: correlationPayload(t.nodePid, 9),
      pid: t.pid,
      thread: { pid: t.pid, tid: waiter.tid },
      gilWaitNs: waiter.end - waiter.start,
      // From the Node job range's start (1 ms into the request) to the worker's.
      queuedNs: waiter.start - 1_000 - (request.start + 1_000_000),
      stalledBy: {
        thread: { pid: t.pid, tid: t.planted!.tid },
        holdStartNs: t.planted!.start,
        holdEndNs: t.planted!.end,
        blockedNs: t.planted!.end - t.planted!.start,
        where: { function: 'run_job', file: '/srv/worker.py', line: 58 },
      },
    });
    // On its way (from the Node job's start to the worker's), the worker's GIL was held: the longest such hold.
    expect(s!.queuedBehind).not.toBeNull();
    expect(s!.queuedBehind!.blockedNs).toBeGreaterThan(0);
    expect(s!.queuedBehind!.holdEndNs).toBeGreaterThan(request.start + 1_000_000);
    expect(s!.queuedBehind!.holdStartNs).toBeLessThan(waiter.start - 1_000);
    // The quick request: its only job began after it ended, so nothing served it (as far as the trace says).
    const quick = report.slowRanges.find((r) => r.name === 'GET /predict' && r.durationNs < 10_000);
    expect(quick?.servedBy).toEqual([]);
    // The worker's job range, itself among the slow ranges, is its own answer.
    const job = report.slowRanges.find((r) => r.name === 'job cpu' && r.pid === t.pid && r.durationNs > 100_000_000);
    expect(job?.servedBy?.map((x) => x.correlationId)).toEqual([s!.correlationId]);
    expect(formatText(report)).toMatch(
      new RegExp(`served by worker pid ${t.pid} thread \\S+ \\(tid ${waiter.tid}\\), which waited 20\\d\\.\\d+ ms for the GIL held by thread \\S+ \\(tid ${t.planted!.tid}\\) in run_job\\(\\) at /srv/worker\\.py:58; job cpu took `),
    );
  });

  it('keeps the overlap-only answer when the trace carries no correlation ids', async () => {
    const t = fixture('served-by-none');
    // A second `request /predict` (a repeated operation) with a payload of the user's own.
    const db = new Database(t.path);
    db.prepare(
      "INSERT INTO NVTX_EVENTS (start, end, eventType, rangeId, text, globalTid, endGlobalTid, domainId, int64Value) SELECT 1000, 2000, eventType, 9000, text, globalTid, endGlobalTid, domainId, 7 FROM NVTX_EVENTS WHERE text = 'request /predict'",
    ).run();
    db.close();
    const report = await reportOf(t.path, { top: 5 });
    expect(report.slowRanges.length).toBeGreaterThan(0);
    for (const r of report.slowRanges) expect(r.servedBy).toBeNull();
    expect(formatText(report)).not.toContain('served by');
  });

  it('encodes a correlation id that no tree payload or plain number is mistaken for', () => {
    const id = correlationPayload(4_194_303, 2 ** 26 - 1);
    expect(Number.isSafeInteger(id)).toBe(true);
    expect(decodeCorrelation(id)).toEqual({ pid: 4_194_303, context: 2 ** 26 - 1 });
    expect(decodeCorrelation(contextPayload(3, 4))).toBeNull();
    expect(decodeCorrelation(42)).toBeNull();
    expect(correlationPayload(1234, 0)).toBe(0);
  });
});
