// The report never holds a trace's ranges in memory: each GIL is re-read through `scan`. These tests pin
// what the analyses rely on — every range exactly once, in start order, whichever way the rows are stored
// — and that the answer does not depend on how the source reads them.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { loadTrace } from '../../lib/report/load.js';
import { GilEventKind, type GilRanges } from '../../lib/report/model.js';
import { fixture, reportOf } from './helpers.js';

type Event = [kind: number, start: number, end: number, tid: number, open: boolean];

/** The GIL rows as SQL sees them (registered messages, one GIL domain), without going through the report. */
function rowsOf(path: string): Event[] {
  const db = new Database(path, { readonly: true });
  try {
    const kinds = new Map((db.prepare('SELECT id, value FROM StringIds').all() as { id: number; value: string }[]).map((r) => [r.id, r.value]));
    const kindOf = { 'Waiting for GIL': GilEventKind.wait, 'Holding GIL': GilEventKind.hold, 'GIL drop request': GilEventKind.drop } as Record<string, number>;
    const rows = db.prepare('SELECT start, end, textId, globalTid FROM NVTX_EVENTS WHERE eventType IN (34, 59, 60) AND textId IS NOT NULL').raw(true).all() as [number, number | null, number, number][];
    return rows
      .filter((r) => kindOf[kinds.get(r[2]) ?? ''] !== undefined)
      .map(([start, end, textId, gt]) => {
        const kind = kindOf[kinds.get(textId)!]!;
        return [kind, start, kind === GilEventKind.drop ? start : end!, gt % 2 ** 24, false];
      });
  } finally {
    db.close();
  }
}

function scanned(gil: GilRanges, tidOf: (thread: number) => number): Event[] {
  const out: Event[] = [];
  gil.scan((kind, start, end, thread, open) => out.push([kind, start, end, tidOf(thread), open]));
  return out;
}

const key = (e: Event) => e.join(',');

/** Adds the index the collector writes on NVTX_EVENTS(start). */
function addStartIndex(path: string): void {
  const db = new Database(path);
  db.exec('CREATE INDEX NVTX_EVENTS_start ON NVTX_EVENTS(start)');
  db.close();
}

describe('GIL ranges are streamed, not held', () => {
  const layouts = [
    { name: 'rows in start order (nsys 2022.4)', shuffle: false, index: false, sorts: false },
    { name: 'rows out of order, index on start (the collector)', shuffle: true, index: true, sorts: false },
    { name: 'rows out of order, no index (newer nsys)', shuffle: true, index: false, sorts: true },
  ];

  for (const layout of layouts) {
    it(`each scan visits every range of its GIL exactly once, in start order: ${layout.name}`, async () => {
      const g = fixture(`scan-${layout.shuffle}-${layout.index}`, { holds: 500, seed: 21, shuffle: layout.shuffle });
      if (layout.index) addStartIndex(g.path);
      const progress: string[] = [];
      const trace = await loadTrace(g.path, { onProgress: (line) => progress.push(line) });
      try {
        // Only a trace with neither order nor index is sorted into memory.
        expect(progress.some((l) => /not in time order/.test(l))).toBe(layout.sorts);
        expect(trace.gils).toHaveLength(1);
        const gil = trace.gils[0]!;
        const tidOf = (t: number) => trace.threads[t]!.tid;
        const first = scanned(gil, tidOf);
        const expected = rowsOf(g.path);
        expect(first.map(key).sort()).toEqual(expected.map(key).sort());
        for (let i = 1; i < first.length; i++) expect(first[i]![1]).toBeGreaterThanOrEqual(first[i - 1]![1]);
        expect(gil.counts).toEqual({
          holds: expected.filter((e) => e[0] === GilEventKind.hold).length,
          waits: expected.filter((e) => e[0] === GilEventKind.wait).length,
          drops: expected.filter((e) => e[0] === GilEventKind.drop).length,
        });
        expect(gil.counts.drops).toBeGreaterThan(0);
        // Scans may be repeated: each re-reads the same events.
        expect(scanned(gil, tidOf).map(key).sort()).toEqual(first.map(key).sort());
      } finally {
        trace.close();
      }
    });
  }

  it('an export whose rows are not in start order gives the same report as the sorted one, with or without an index', async () => {
    const opts = { holds: 400, seed: 5, openFinalHold: true, overlapEvery: 37 };
    const sorted = await reportOf(fixture('same-sorted', opts).path, { top: 5 });
    const shuffled = await reportOf(fixture('same-shuffled', { ...opts, shuffle: true }).path, { top: 5 });
    const indexed = fixture('same-indexed', { ...opts, shuffle: true });
    addStartIndex(indexed.path);
    const viaIndex = await reportOf(indexed.path, { top: 5 });
    expect(sorted.validation.ok).toBe(false);
    expect({ ...shuffled, source: '' }).toEqual({ ...sorted, source: '' });
    expect({ ...viaIndex, source: '' }).toEqual({ ...sorted, source: '' });
  });

  it('two GILs of one process, rows interleaved: each scan reads only its own', async () => {
    const g = fixture('two-gils', { interpreterId: 0, holds: 300 });
    const db = new Database(g.path);
    db.exec(
      'INSERT INTO NVTX_EVENTS (start, end, eventType, rangeId, globalTid, textId, domainId, uint64Value) ' +
        'SELECT start + 1000, end + 1000, eventType, rangeId, globalTid + 500, textId, domainId, 1 FROM NVTX_EVENTS WHERE eventType IN (34, 60) AND domainId = 1 AND textId IS NOT NULL',
    );
    db.close();
    const trace = await loadTrace(g.path);
    try {
      expect(trace.gils.map((x) => x.key)).toEqual([`${g.pid}/0`, `${g.pid}/1`]);
      const [a, b] = trace.gils.map((gil) => scanned(gil, (t) => trace.threads[t]!.tid));
      expect(a!.length).toBe(b!.length);
      expect(a!.every((e) => e[3] < g.pid + 500)).toBe(true);
      expect(b!.every((e) => e[3] >= g.pid + 500)).toBe(true);
      expect(b!.map((e) => e[1] - 1000)).toEqual(a!.map((e) => e[1]));
    } finally {
      trace.close();
    }
  });

  it('a range that never closed comes out open, cut where nsys cut it (trace end)', async () => {
    const g = fixture('open-scan', { openFinalHold: true });
    const trace = await loadTrace(g.path);
    try {
      const open = scanned(trace.gils[0]!, (t) => trace.threads[t]!.tid).filter((e) => e[4]);
      expect(open).toHaveLength(1);
      expect(open[0]).toMatchObject([GilEventKind.hold, expect.any(Number), g.traceEnd, g.mainTid, true]);
    } finally {
      trace.close();
    }
  });
});
