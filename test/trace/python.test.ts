import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeTrace } from '../../lib/trace/merge.js';
import { patchedPythonOrSkip } from '../helpers/pythons.js';
import { ensureCollector, queryAll, readEvents, runWithCollector, scratchDir } from './helpers.js';

// The collector on a real GIL-instrumented CPython (3.11.2, Debian bookworm's source).
const patched = await patchedPythonOrSkip('3.11.2');
const python = 'python' in patched ? patched.python : '';

function tracePython(code: string) {
  const dir = scratchDir('py');
  const run = runWithCollector([python, '-u', '-c', code], join(dir, 'raw'));
  const db = join(dir, 'trace.sqlite');
  const summary = mergeTrace(join(dir, 'raw'), db);
  return { run, db, summary, events: readEvents(db) };
}

const THREADS = `
import threading
def work():
    n = 0
    for i in range(200000):
        n += i
ts = [threading.Thread(target=work) for _ in range(3)]
for t in ts: t.start()
for t in ts: t.join()
`;

describe.skipIf('skip' in patched)('collector on a patched CPython', () => {
  beforeAll(() => {
    ensureCollector();
  }, 300_000);

  it('Holding ranges of one process never overlap and carry the interpreter id', () => {
    const { run, db, events } = tracePython(THREADS);
    expect(run.status).toBe(0);
    const holds = events.filter((e) => e.domain === 'CPython GIL' && e.name === 'Holding GIL' && (e.eventType === 59 || e.eventType === 60));
    const waits = events.filter((e) => e.domain === 'CPython GIL' && e.name === 'Waiting for GIL');
    expect(new Set(holds.map((h) => h.tid)).size).toBeGreaterThanOrEqual(4);
    expect(waits.length).toBeGreaterThan(0);
    for (const h of holds) expect(h.payload).toMatch(/^(u64|i64):0$/);
    const sorted = [...holds].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.start).toBeGreaterThanOrEqual(sorted[i - 1]!.end!);
    // Every hold ends where it should: no hold overlaps the thread's next wait.
    expect(queryAll<{ n: number }>(db, 'SELECT COUNT(*) AS n FROM NVTX_EVENTS WHERE end < start')).toEqual([{ n: 0 }]);
    // The GIL's rows (four threads' waits, holds and drop requests) are stored in start order, so the
    // report streams them from the table in rowid windows instead of holding them in memory.
    const inversions = queryAll<{ rows: number; back: number }>(
      db,
      `SELECT COUNT(*) AS rows, SUM(start < prev) AS back FROM (SELECT start, lag(start) OVER (ORDER BY rowid) AS prev FROM NVTX_EVENTS
        WHERE eventType IN (34, 59, 60) AND domainId = (SELECT domainId FROM NVTX_EVENTS WHERE eventType = 75 AND text = 'CPython GIL'))`,
    )[0]!;
    // Marks: drop requests and the interpreter's location marks of holds and waits of 1 ms or more.
    const marks = events.filter((e) => e.domain === 'CPython GIL' && e.eventType === 34);
    expect(marks.every((m) => m.name === 'GIL drop request' || /^GIL (wait|taken|released) at \S+ \(.+:\d+\)$/.test(m.name ?? '')), marks.map((m) => m.name).join('\n')).toBe(true);
    expect(inversions.rows).toBe(holds.length + waits.length + marks.length);
    expect(inversions.back).toBe(0);
  });

  it('names each thread with its threading.Thread name, renames too, and costs start-up no threading import', () => {
    const NAMED = `
import sys
print("threading at start-up:", "threading" in sys.modules)
import threading
def work():
    s = 0
    for i in range(100000):
        s += i
t = threading.Thread(target=work, name="writer")
t.start()
t.join()
r = threading.Thread(target=lambda: threading.current_thread().__setattr__("name", "renamed") or work(), name="before")
r.start()
r.join()
`;
    const names = (db: string) =>
      queryAll<{ name: string }>(db, 'SELECT s.value AS name FROM ThreadNames t JOIN StringIds s ON s.id = t.nameId WHERE t.priority = 0').map((n) => n.name).sort();
    const on = tracePython(NAMED);
    expect(on.run.status).toBe(0);
    // The hook waits for the program's own import of threading instead of importing it at start-up.
    expect(on.run.stdout).toContain('threading at start-up: False');
    expect(names(on.db)).toEqual(expect.arrayContaining(['MainThread', 'writer', 'before', 'renamed']));
    const off = (() => {
      const dir = scratchDir('py-names-off');
      const run = runWithCollector([python, '-u', '-c', NAMED], join(dir, 'raw'), { PYTHON_GIL_NVTX_THREAD_NAMES: '0' });
      mergeTrace(join(dir, 'raw'), join(dir, 'trace.sqlite'));
      return { run, db: join(dir, 'trace.sqlite') };
    })();
    expect(off.run.status).toBe(0);
    expect(names(off.db)).toEqual([]);
  });

  it('os._exit while holding the GIL: all events kept, the last hold ends at the last event', () => {
    const { run, db, events, summary } = tracePython(`${THREADS}\nimport os\nos._exit(7)\n`);
    expect(run.status).toBe(7);
    expect(summary.withoutCleanExit).toEqual([run.pid]);
    expect(queryAll(db, 'SELECT cleanExit FROM GILNVTX_PROCESSES')).toEqual([{ cleanExit: 0 }]);
    const holds = events.filter((e) => e.name === 'Holding GIL');
    const last = Math.max(...events.map((e) => e.start));
    expect(holds.at(-1)!.end).toBe(last);
  });

  it('a fork child (os.fork, no exec) has its own GIL ranges, names resolved', () => {
    const { run, events, summary } = tracePython(`
import os
${THREADS}
pid = os.fork()
if pid == 0:
    ${THREADS.trim().split('\n').join('\n    ')}
    os._exit(0)
os.waitpid(pid, 0)
print("child", pid)
`);
    expect(run.status).toBe(0);
    const child = Number(/child (\d+)/.exec(run.stdout)![1]);
    expect(summary.processes).toBe(2);
    const childHolds = events.filter((e) => e.pid === child && e.domain === 'CPython GIL' && e.name === 'Holding GIL');
    expect(new Set(childHolds.map((h) => h.tid)).size).toBeGreaterThanOrEqual(3);
  });
});
