import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { fixture, reportOf } from './helpers.js';

describe('slowest operations outside the GIL', () => {
  it('ranks repeated non-GIL ranges by duration and names the holds in progress during each', async () => {
    const t = fixture('slow-ranges');
    // The generator plants one `request /predict` around the 200 ms hold; add two quick ones elsewhere,
    // and a one-off range (a worker's lifetime) that must not count as an outlier.
    const db = new Database(t.path);
    const req = db.prepare("SELECT * FROM NVTX_EVENTS WHERE text = 'request /predict'").get() as Record<string, number | string | null>;
    const copy = db.prepare(
      'INSERT INTO NVTX_EVENTS (start, end, eventType, rangeId, text, globalTid, endGlobalTid, domainId, int64Value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const first = db.prepare('SELECT MIN(start) AS s, MAX(end) AS e FROM NVTX_EVENTS WHERE end IS NOT NULL').get() as { s: number; e: number };
    for (const [i, at] of [first.s, first.s + 1_000].entries()) {
      copy.run(at, at + 500, req.eventType, 9000 + i, 'request /predict', req.globalTid, req.globalTid, req.domainId, 42);
    }
    copy.run(first.s, first.e, req.eventType, 9100, 'worker lifetime', req.globalTid, req.globalTid, req.domainId, null);
    db.close();

    const report = await reportOf(t.path, { top: 5 });
    expect(report.slowRanges.map((r) => r.name)).toEqual(['request /predict', 'request /predict', 'request /predict']);
    const [slowest] = report.slowRanges;
    expect(slowest!.instances).toBe(3);
    expect(slowest!.durationNs).toBe(t.planted!.end - t.planted!.start + 13_000_000);
    const [hold] = slowest!.holds;
    // The planted hold lies wholly inside the request.
    expect([hold!.startNs, hold!.endNs]).toEqual([t.planted!.start, t.planted!.end]);
    expect(hold!.overlapNs).toBe(t.planted!.end - t.planted!.start);
    expect(slowest!.gilHeldNs).toBeGreaterThanOrEqual(hold!.overlapNs);
    // The quick requests ran before any GIL activity.
    expect(report.slowRanges[2]!.holds).toEqual([]);
  });
});
