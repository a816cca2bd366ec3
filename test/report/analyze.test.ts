import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { globalTid } from '../../test-support/generate-trace.mjs';
import { loadTrace } from '../../lib/report/load.js';
import { fixture, reportOf } from './helpers.js';

describe('report analysis on synthetic nsys exports', () => {
  it('validates, counts and puts the planted 200 ms hold first with its waiters, OS calls and Node range', async () => {
    const g = fixture('basic');
    const r = await reportOf(g.path, { top: 3 });
    expect(r.schema).toBe('gil-nvtx.report/2');
    expect(r.validation.ok).toBe(true);
    expect(r.validation.checkedHolds).toBe(200);
    expect(r.gils).toHaveLength(1);
    const gil = r.gils[0]!;
    expect(gil.holds.count).toBe(200);
    expect(gil.waits.count).toBe(200);
    expect(gil.holds.maxNs).toBe(200_000_000);
    expect(gil.threads.map((t) => t.thread.tid).sort()).toEqual([g.mainTid, ...g.workerTids].sort());
    expect(gil.utilisation).toBeGreaterThan(0);
    expect(gil.utilisation).toBeLessThanOrEqual(1);
    expect(gil.contention).toBeGreaterThan(0);
    expect(gil.handoff.count).toBeGreaterThan(0);

    const top = r.blame[0]!;
    expect(top.rank).toBe(1);
    expect(top.durationNs).toBe(200_000_000);
    expect(top.thread.tid).toBe(g.planted!.tid);
    expect(top.startNs).toBe(g.planted!.start);
    // Every other GIL thread waited through the hold.
    expect(top.waiterCount).toBe(3);
    expect(top.waiters.map((w) => w.thread.tid).sort()).toEqual([g.mainTid, ...g.workerTids].filter((t) => t !== g.planted!.tid).sort());
    for (const w of top.waiters) expect(w.blockedNs).toBeGreaterThan(190_000_000);
    expect(top.dropRequestsDuring).toBeGreaterThan(0);
    expect(top.holderOsCalls!.map((c) => c.name)).toEqual(['usleep']);
    const fsync = top.otherOsCalls!.find((c) => c.name === 'fdatasync');
    expect(fsync?.thread.tid).toBe(g.writerTid);
    expect(fsync?.thread.name).toBe('writer');
    const node = top.concurrentRanges.find((c) => c.name === 'request /predict');
    expect(node).toMatchObject({ domain: 'node', pid: g.nodePid, processName: 'node' });
    expect(top.holderCpu).toMatchObject({ source: 'none', state: 'unknown', onCpuNs: null });
    expect(r.blame[1]!.durationNs).toBeLessThan(top.durationNs);
  });

  it('lists overlapping holds (the naive mutex patch) with threads and timestamps', async () => {
    const g = fixture('overlap', { overlapEvery: 20 });
    const r = await reportOf(g.path);
    expect(g.overlaps).toBeGreaterThan(0);
    expect(r.validation.ok).toBe(false);
    expect(r.validation.violationCount).toBe(g.overlaps);
    const v = r.validation.violations[0]!;
    expect(v.second.startNs).toBeLessThan(v.first.endNs);
    expect(v.overlapNs).toBe(v.first.endNs - v.second.startNs);
    expect(v.first.thread.tid).not.toBe(v.second.thread.tid);
    expect(v.pid).toBe(g.pid);
  });

  it('gives the same answer when the export is not in time order (newer nsys)', async () => {
    const sorted = await reportOf(fixture('sorted', { seed: 7 }).path);
    const shuffled = await reportOf(fixture('shuffled', { seed: 7, shuffle: true }).path);
    expect({ ...shuffled, source: '' }).toEqual({ ...sorted, source: '' });
  });

  it('reports the ≤3.11 open final hold as a note and keeps it out of statistics and blame', async () => {
    const g = fixture('open', { openFinalHold: true });
    const r = await reportOf(g.path);
    expect(r.validation.ok).toBe(true);
    expect(r.validation.notes).toHaveLength(1);
    expect(r.validation.notes[0]).toMatchObject({ kind: 'open-final-hold', thread: { tid: g.mainTid } });
    const main = r.gils[0]!.threads.find((t) => t.thread.tid === g.mainTid)!;
    expect(main.openHolds).toBe(1);
    expect(r.gils[0]!.holds.count).toBe(200);
    expect(r.blame[0]!.durationNs).toBe(200_000_000);
  });

  it('notes a wait that no hold follows (an _exit child loses its last hold)', async () => {
    const g = fixture('exit-child');
    const db = new Database(g.path);
    // Drop the last hold of the process, as nsys does for a child leaving through os._exit.
    db.exec("DELETE FROM NVTX_EVENTS WHERE rowid = (SELECT rowid FROM NVTX_EVENTS WHERE textId = (SELECT id FROM StringIds WHERE value = 'Holding GIL') ORDER BY start DESC LIMIT 1)");
    db.close();
    const r = await reportOf(g.path);
    expect(r.validation.ok).toBe(true);
    expect(r.validation.notes.map((n) => n.kind)).toEqual(['wait-without-hold']);
  });

  it('says whether the holder ran: SCHED_EVENTS first, the watchdog samples otherwise', async () => {
    const sched = await reportOf(fixture('sched', { sched: true }).path);
    expect(sched.blame[0]!.holderCpu.source).toBe('sched-events');
    expect(sched.blame[0]!.holderCpu.state).toBe('off-cpu');
    expect(sched.blame[0]!.holderCpu.onCpuNs).toBe(2_000_000);
    const collector = await reportOf(fixture('collector', { collector: true }).path);
    expect(collector.producer.name).toBe('gil-nvtx collector');
    expect(collector.blame[0]!.holderCpu).toMatchObject({ source: 'watchdog-samples', state: 'off-cpu', onCpuNs: 2_000_000 });
    expect(collector.blame[0]!.holder).toMatchObject({ verdict: 'blocked-in-syscall', syscalls: [{ name: 'clock_nanosleep', state: 'S' }] });
    expect(collector.blame[0]!.holder!.summary).toMatch(/^holder blocked in clock_nanosleep \(state S\) 100\.0% of the sampled 199\.0 ms/);
    // A 1 ms hold is below the watchdog's threshold: no samples, and the report says it does not know.
    expect(collector.blame[1]!.durationNs).toBeLessThan(2_000_000);
    expect(collector.blame[1]!.holderCpu.state).toBe('unknown');
    expect(collector.blame[1]!.holder).toBeNull();
  });

  it('collector traces: a range cut at its process end (not trace end) is open', async () => {
    const g = fixture('collector-open', { collector: true, openFinalHold: true });
    const db = new Database(g.path);
    db.exec('DROP TABLE ANALYSIS_DETAILS');
    db.exec('CREATE TABLE GILNVTX_PROCESSES (globalPid INTEGER, pid INTEGER, ppid INTEGER, forkedFrom INTEGER, start INTEGER, end INTEGER, cleanExit INTEGER, droppedEvents INTEGER, commandLine TEXT, file TEXT)');
    // The Node process outlives Python by 50 ms: the trace ends later than Python's open hold.
    db.prepare('INSERT INTO GILNVTX_PROCESSES (pid, start, end) VALUES (?, 0, ?), (?, 0, ?)').run(g.pid, g.traceEnd, g.nodePid, g.traceEnd + 50_000_000);
    db.close();
    const r = await reportOf(g.path);
    expect(r.trace.endNs).toBe(g.traceEnd + 50_000_000);
    expect(r.validation.notes.map((n) => n.kind)).toEqual(['open-final-hold']);
    expect(r.blame[0]!.durationNs).toBe(200_000_000);
  });

  it('reads a collector trace folder (<dir>/trace.sqlite)', async () => {
    const g = fixture('trace', { collector: true });
    const dir = g.path.replace(/\/[^/]+$/, '');
    const { renameSync } = await import('node:fs');
    renameSync(g.path, `${dir}/trace.sqlite`);
    const r = await reportOf(dir);
    expect(r.gils[0]!.holds.count).toBe(200);
  });

  it('handles unregistered messages, per-process domain ids and a missing OSRT_API table', async () => {
    const g = fixture('plain', { registered: false, gilDomainId: 3 });
    const db = new Database(g.path);
    db.exec('DROP TABLE OSRT_API');
    db.close();
    const r = await reportOf(g.path);
    expect(r.gils[0]!.holds.count).toBe(200);
    expect(r.sources.osrt).toBe(false);
    expect(r.blame[0]!.holderOsCalls).toBeNull();
    expect(r.blame[0]!.otherOsCalls).toBeNull();
  });

  it('copes with other column layouts: no inline text column, the payload in int64Value', async () => {
    const base = await reportOf(fixture('layout-base', { seed: 3 }).path);
    const g = fixture('layout', { seed: 3 });
    const db = new Database(g.path);
    // Every name registered (domain names too), and no `text` / `uint64Value` columns at all.
    db.exec(`
      INSERT INTO StringIds (id, value) SELECT 1000 + rowid, text FROM NVTX_EVENTS WHERE text IS NOT NULL;
      UPDATE NVTX_EVENTS SET textId = 1000 + rowid WHERE text IS NOT NULL;
      UPDATE NVTX_EVENTS SET int64Value = uint64Value WHERE uint64Value IS NOT NULL;
      ALTER TABLE NVTX_EVENTS DROP COLUMN text;
      ALTER TABLE NVTX_EVENTS DROP COLUMN uint64Value;
      ALTER TABLE NVTX_EVENTS DROP COLUMN endGlobalTid;
    `);
    db.close();
    const r = await reportOf(g.path);
    expect({ ...r, source: '' }).toEqual({ ...base, source: '' });
    expect(r.blame[0]!.concurrentRanges.map((c) => `${c.domain}:${c.name}`)).toContain('node:request /predict');
  });

  it('keeps GILs of different interpreters apart (3.12+ own GILs may overlap)', async () => {
    const g = fixture('interp', { interpreterId: 0 });
    const db = new Database(g.path);
    // Re-tag a copy of every range as interpreter 1, shifted so that it overlaps interpreter 0's holds.
    db.exec('INSERT INTO NVTX_EVENTS (start, end, eventType, rangeId, globalTid, textId, domainId, uint64Value) ' +
      'SELECT start + 1000, end + 1000, eventType, rangeId, globalTid + 500, textId, domainId, 1 FROM NVTX_EVENTS WHERE eventType = 60 AND domainId = 1 AND textId IS NOT NULL');
    db.close();
    const r = await reportOf(g.path);
    expect(r.gils.map((x) => x.interpreterId)).toEqual([0, 1]);
    expect(r.validation.ok).toBe(true);
  });

  it('prefers the NVTX thread name over the OS name', async () => {
    const g = fixture('names', { threadName: 'io-pool' });
    const trace = await loadTrace(g.path);
    try {
      const names = trace.threads.map((t) => t.name).sort();
      expect(names).toContain('io-pool-1');
      expect(names).toContain('python3');
    } finally {
      trace.close();
    }
  });

  it("never calls a program's main thread 'nsys-launcher' (nsys sampled its name before the exec)", async () => {
    const g = fixture('launcher', { processName: '/opt/py/bin/python3.11 -u app.py' });
    const db = new Database(g.path);
    const launcher = db.prepare('SELECT MAX(id) + 1 FROM StringIds').pluck().get() as number;
    db.prepare('INSERT INTO StringIds (id, value) VALUES (?, ?)').run(launcher, 'nsys-launcher');
    const mainGt = globalTid(g.pid, g.mainTid);
    const workerGt = globalTid(g.pid, g.workerTids[0]!);
    // The main thread: only the launcher's name. A worker: the launcher's name beside its own, same priority.
    db.prepare('DELETE FROM ThreadNames WHERE globalTid = ?').run(mainGt);
    db.prepare('INSERT INTO ThreadNames (nameId, priority, globalTid) VALUES (?, 20, ?)').run(launcher, mainGt);
    db.prepare('DELETE FROM ThreadNames WHERE globalTid = ? AND priority = 0').run(workerGt);
    db.prepare('INSERT INTO ThreadNames (nameId, priority, globalTid) VALUES (?, 20, ?)').run(launcher, workerGt);
    db.close();
    const trace = await loadTrace(g.path);
    try {
      const nameOf = (tid: number) => trace.threads.find((t) => t.tid === tid)?.name;
      expect(nameOf(g.mainTid)).toBe('python3.11');
      expect(nameOf(g.workerTids[0]!)).toBe('python3');
    } finally {
      trace.close();
    }
  });
});
