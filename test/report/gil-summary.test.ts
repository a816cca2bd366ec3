// The merge summarises a collector trace's GIL rows (lib/trace/gil-summary.ts) so that the report skips
// the pass that counts them. These tests pin that the summary changes nothing but the work: the same
// report with and without it, and a trace changed after the merge is caught and read as it is now.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyzeTrace } from '../../lib/report/analyze.js';
import { formatJson } from '../../lib/report/format-json.js';
import { loadTrace } from '../../lib/report/load.js';
import { runReport } from '../../lib/report/run.js';
import { StaleGilSummaryError } from '../../lib/report/source-sqlite.js';
import { GIL_SUMMARY_KEY, GilSummaryBuilder, parseGilSummary } from '../../lib/trace/gil-summary.js';
import { mergeTrace } from '../../lib/trace/merge.js';
import { patchedPythonOrSkip } from '../helpers/pythons.js';
import { ensureCollector, queryAll, runWithCollector, scratchDir } from '../trace/helpers.js';

const patched = await patchedPythonOrSkip('3.11.2');
const python = 'python' in patched ? patched.python : '';

// Three threads hand the GIL around, then a fork child does the same: two processes, two GILs.
const WORKLOAD = `
import os, threading
def work():
    fd = os.open('/dev/zero', os.O_RDONLY)
    for i in range(2000):
        os.read(fd, 1)  # releases and retakes the GIL
    os.close(fd)
def run():
    ts = [threading.Thread(target=work) for _ in range(3)]
    for t in ts: t.start()
    for t in ts: t.join()
run()
pid = os.fork()
if pid == 0:
    run()
    os._exit(0)
os.waitpid(pid, 0)
`;

const READING = /reading GIL ranges/;

async function analysed(path: string, ignoreGilSummary: boolean): Promise<{ json: string; counted: boolean }> {
  const progress: string[] = [];
  const trace = await loadTrace(path, { ignoreGilSummary, onProgress: (l) => progress.push(l) });
  try {
    return { json: formatJson(analyzeTrace(trace)), counted: progress.some((l) => READING.test(l)) };
  } finally {
    trace.close();
  }
}

function summaryOf(path: string) {
  return parseGilSummary(queryAll<{ value: string }>(path, 'SELECT value FROM GILNVTX_META WHERE key = ?', GIL_SUMMARY_KEY)[0]?.value);
}

/** A copy of the merged trace with `sql` applied. */
function changed(base: string, name: string, sql: string): string {
  const path = join(scratchDir('gil-summary'), `${name}.sqlite`);
  copyFileSync(base, path);
  const db = new Database(path);
  try {
    expect(db.prepare(sql).run().changes).toBe(1);
  } finally {
    db.close();
  }
  return path;
}

describe.skipIf('skip' in patched)('the merge summary of the GIL rows', () => {
  let db = '';
  beforeAll(() => {
    ensureCollector();
    const dir = scratchDir('gil-summary');
    const run = runWithCollector([python, '-c', WORKLOAD], join(dir, 'raw'));
    expect(run.status).toBe(0);
    db = join(dir, 'trace.sqlite');
    mergeTrace(join(dir, 'raw'), db);
  }, 300_000);

  it('names every GIL with its counts and every thread, as the rows have them', () => {
    const s = summaryOf(db)!;
    expect(s).not.toBeNull();
    expect(s.gils.length).toBe(2);
    const rows = queryAll<{ pid: number; value: string; n: number }>(
      db,
      `SELECT (globalTid >> 24) & 16777215 AS pid, s.value, count(*) AS n FROM NVTX_EVENTS e JOIN StringIds s ON s.id = e.textId
       WHERE s.value IN ('Holding GIL', 'Waiting for GIL', 'GIL drop request') GROUP BY 1, 2`,
    );
    for (const g of s.gils) {
      const n = (v: string) => rows.find((r) => r.pid === g.pid && r.value === v)?.n ?? 0;
      expect([g.holds, g.waits, g.drops]).toEqual([n('Holding GIL'), n('Waiting for GIL'), n('GIL drop request')]);
      expect(g.holds).toBeGreaterThan(100);
    }
    const threads = queryAll<{ gt: number }>(db, "SELECT DISTINCT globalTid AS gt FROM NVTX_EVENTS e JOIN StringIds s ON s.id = e.textId WHERE s.value = 'Holding GIL'");
    expect(new Set(s.threads)).toEqual(new Set(threads.map((t) => t.gt)));
    expect(s.threads.length).toBeGreaterThanOrEqual(8);
  });

  it('gives the same report as counting the rows, without counting them', async () => {
    const withSummary = await analysed(db, false);
    const counted = await analysed(db, true);
    expect(withSummary.counted).toBe(false);
    expect(counted.counted).toBe(true);
    expect(withSummary.json).toBe(counted.json);
  });

  it.each([
    ['a hold turned into a wait', "UPDATE NVTX_EVENTS SET textId = (SELECT id FROM StringIds WHERE value = 'Waiting for GIL') WHERE rowid = (SELECT max(e.rowid) FROM NVTX_EVENTS e JOIN StringIds s ON s.id = e.textId WHERE s.value = 'Holding GIL')"],
    ['a start moved before its predecessor', "UPDATE NVTX_EVENTS SET start = 0 WHERE rowid = (SELECT max(e.rowid) FROM NVTX_EVENTS e JOIN StringIds s ON s.id = e.textId WHERE s.value = 'Holding GIL')"],
    ['an end made text', "UPDATE NVTX_EVENTS SET end = 'x' WHERE rowid = (SELECT max(e.rowid) FROM NVTX_EVENTS e JOIN StringIds s ON s.id = e.textId WHERE s.value = 'Holding GIL')"],
  ])('a trace changed after the merge (%s) is caught, and the report reads it as it is now', async (name, sql) => {
    const path = changed(db, name.replace(/\W+/g, '-'), sql);
    const trace = await loadTrace(path);
    try {
      expect(() => analyzeTrace(trace)).toThrow(StaleGilSummaryError);
    } finally {
      trace.close();
    }
    const progress: string[] = [];
    const { report } = await runReport(path, { onProgress: (l) => progress.push(l) });
    expect(progress.some((l) => /changed after the merge/.test(l))).toBe(true);
    expect(formatJson(report)).toBe((await analysed(path, true)).json);
  });

  it('is not used once the table has other rows than it was written for', async () => {
    const path = changed(db, 'deleted', 'DELETE FROM NVTX_EVENTS WHERE rowid = (SELECT max(rowid) FROM NVTX_EVENTS)');
    expect((await analysed(path, false)).counted).toBe(true);
  });
});

describe('GilSummaryBuilder', () => {
  it('counts per GIL and keeps threads in order of their first row', () => {
    const b = new GilSummaryBuilder();
    b.add(0, 7, 700, 0, 10, 20);
    b.add(1, 7, 701, 0, 20, 30);
    b.add(2, 7, 700, 0, 25, null);
    b.add(-1, 7, 702, 0, 26, null); // another message in the GIL domain: not an event
    b.add(1, 7, 700, 1, 5, 9); // interpreter 1 has a GIL of its own, with its own order
    const s = b.result(10, 12)!;
    expect(s.threads).toEqual([700, 701]);
    expect(s.gils).toEqual([
      { pid: 7, interpreterId: 0, holds: 1, waits: 1, drops: 1 },
      { pid: 7, interpreterId: 1, holds: 1, waits: 0, drops: 0 },
    ]);
    expect([s.firstStart, s.lastEnd, s.gilRowidMin, s.maxRowid]).toEqual([5, 30, 10, 12]);
  });

  it.each([
    ['a GIL row out of start order', [[1, 7, 700, 0, 20, 30], [0, 7, 701, 0, 10, 40]]],
    ['a hold without an end', [[1, 7, 700, 0, 20, null]]],
    ['an end before the start', [[1, 7, 700, 0, 20, 10]]],
    ['a payload that is no interpreter id', [[1, 7, 700, 1.5, 20, 30]]],
  ] as [string, [number, number, number, number, number, number | null][]][])('writes no summary for %s: the report counts those rows itself', (_, rows) => {
    const b = new GilSummaryBuilder();
    for (const r of rows) b.add(...r);
    expect(b.result(1, 1)).toBeNull();
  });
});
