// Writes a synthetic trace in the nsys 2022.4 SQLite export schema: a Python process whose threads take
// turns on the GIL (Waiting → Holding, with drop-request marks on long waits), one planted 200 ms hold
// while an `fdatasync` runs on a writer thread, and a Node process with a request range in flight.
// The benchmark generates 1,000,000 holds + 1,000,000 waits; the report tests use the same generator
// at a few hundred events, with knobs for the cases they need (overlaps, shuffled rows, collector tables).
import Database from 'better-sqlite3';
import { existsSync, renameSync, rmSync } from 'node:fs';

// The nsys 2022.4 export's own table definitions (column lists as `nsys export --type sqlite` writes them).
const SCHEMA = `
CREATE TABLE StringIds (id INTEGER NOT NULL PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE ThreadNames (nameId INTEGER NOT NULL, priority INTEGER, globalTid INTEGER);
CREATE TABLE PROCESSES (globalPid INTEGER, pid INTEGER, name TEXT);
CREATE TABLE NVTX_EVENTS (start INTEGER NOT NULL, end INTEGER, eventType INTEGER NOT NULL, rangeId INTEGER,
  category INTEGER, color INTEGER, text TEXT, globalTid INTEGER, endGlobalTid INTEGER, textId INTEGER,
  domainId INTEGER, uint64Value INTEGER, int64Value INTEGER, doubleValue REAL, uint32Value INTEGER,
  int32Value INTEGER, floatValue REAL, jsonTextId INTEGER, jsonText TEXT);
CREATE TABLE OSRT_API (start INTEGER NOT NULL, end INTEGER NOT NULL, eventClass INTEGER NOT NULL, globalTid INTEGER,
  nameId INTEGER NOT NULL, returnValue INTEGER NOT NULL, nestingLevel INTEGER, callchainId INTEGER NOT NULL);
CREATE TABLE ANALYSIS_DETAILS (globalVid INTEGER NOT NULL, duration INTEGER NOT NULL, startTime INTEGER NOT NULL,
  stopTime INTEGER NOT NULL);
CREATE TABLE EXPORT_META_DATA (name TEXT NOT NULL, value TEXT);
`;
const SCHED_SCHEMA = 'CREATE TABLE SCHED_EVENTS (start INTEGER NOT NULL, cpu INTEGER NOT NULL, isSchedIn INTEGER NOT NULL, globalTid INTEGER);';
const COLLECTOR_SCHEMA = `
CREATE TABLE GILNVTX_META (key TEXT, value TEXT);
CREATE TABLE GILNVTX_HOLD_SAMPLES (globalTid INTEGER, holdStart INTEGER, ts INTEGER, state TEXT, wchan TEXT, execNs INTEGER,
  runqNs INTEGER, minflt INTEGER, majflt INTEGER, syscall INTEGER, arg0 INTEGER, throttledNs INTEGER, nrThrottled INTEGER,
  psiCpuUs INTEGER, psiIoUs INTEGER, psiMemUs INTEGER);
`;

const NVTX_PUSHPOP = 59;
const NVTX_STARTEND = 60;
const NVTX_MARK = 34;
const NVTX_DOMAIN_CREATE = 75;
const NVTX_THREAD_NAME = 39;

/** nsys's serialized GlobalId for a thread: a fixed high part, then pid and tid in 24 bits each. */
export function globalTid(pid, tid) {
  return 2 ** 48 + (pid & 0xffffff) * 2 ** 24 + (tid & 0xffffff);
}

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * @param {string} path output file (written to `path.tmp`, then renamed)
 * @param {import('./generate-trace.mjs').GenerateOptions} [options]
 * @returns {import('./generate-trace.mjs').GeneratedTrace}
 */
export function generateTrace(path, options = {}) {
  const holds = options.holds ?? 1000;
  const threads = options.threads ?? 4;
  const seed = options.seed ?? 1;
  const pid = options.pid ?? 4242;
  const nodePid = options.nodePid ?? 4343;
  const longHoldNs = options.longHoldNs ?? 200_000_000;
  const random = mulberry32(seed);
  const tmp = `${path}.tmp`;
  rmSync(tmp, { force: true });
  const db = new Database(tmp);
  db.pragma('journal_mode = OFF');
  db.pragma('synchronous = OFF');
  db.exec(SCHEMA);
  if (options.sched) db.exec(SCHED_SCHEMA);
  if (options.collector) db.exec(COLLECTOR_SCHEMA);

  const strings = new Map();
  const insString = db.prepare('INSERT INTO StringIds (id, value) VALUES (?, ?)');
  const stringId = (value) => {
    let id = strings.get(value);
    if (id === undefined) {
      id = strings.size + 1;
      strings.set(value, id);
      insString.run(id, value);
    }
    return id;
  };
  const insNvtx = db.prepare(
    'INSERT INTO NVTX_EVENTS (start, end, eventType, rangeId, text, globalTid, endGlobalTid, textId, domainId, uint64Value, int64Value) ' +
      'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insOsrt = db.prepare('INSERT INTO OSRT_API (start, end, eventClass, globalTid, nameId, returnValue, nestingLevel, callchainId) VALUES (?, ?, 27, ?, ?, 0, 0, 0)');
  const insThreadName = db.prepare('INSERT INTO ThreadNames (nameId, priority, globalTid) VALUES (?, ?, ?)');
  const insSched = options.sched ? db.prepare('INSERT INTO SCHED_EVENTS (start, cpu, isSchedIn, globalTid) VALUES (?, 0, ?, ?)') : null;
  const insSample = options.collector
    ? db.prepare('INSERT INTO GILNVTX_HOLD_SAMPLES (globalTid, holdStart, ts, state, wchan, execNs, runqNs, minflt, majflt, syscall, arg0, throttledNs, nrThrottled, psiCpuUs, psiIoUs, psiMemUs) VALUES (?, ?, ?, ?, ?, ?, 0, 0, 0, ?, 0, 0, 0, 0, 0, 0)')
    : null;
  // The watchdog's samples: every millisecond from 1 ms into a hold; the long hold sleeps in
  // clock_nanosleep (on a CPU 1 % of the time), every other hold computes.
  const samples = (gt, holdStart, holdEnd, sleeping) => {
    for (let t = holdStart + 1_000_000, exec = 0; t <= holdEnd; t += 1_000_000, exec += sleeping ? 10_000 : 1_000_000) {
      insSample.run(gt, holdStart, t, sleeping ? 'S' : 'R', sleeping ? 'hrtimer_nanosleep' : null, exec, sleeping ? 230 : -1);
    }
  };

  const waitingId = stringId('Waiting for GIL');
  const holdingId = stringId('Holding GIL');
  const dropId = stringId('GIL drop request');
  const gilDomain = options.gilDomainId ?? 1;
  const interp = options.interpreterId ?? 0;
  const kindWait = options.registered === false ? { text: 'Waiting for GIL', id: null } : { text: null, id: waitingId };
  const kindHold = options.registered === false ? { text: 'Holding GIL', id: null } : { text: null, id: holdingId };

  const mainTid = pid;
  const workerTids = Array.from({ length: threads - 1 }, (_, i) => pid + 10 + i);
  const gilTids = [mainTid, ...workerTids];
  const writerTid = pid + 100;
  const nodeTid = nodePid;

  // Buffered rows, so that `shuffle` can write them out of time order like newer nsys exports do.
  const rows = [];
  const push = (r) => rows.push(r);
  let rangeId = 1;
  const startEnd = (start, end, tid, kind, p = pid) =>
    push([start, end, NVTX_STARTEND, rangeId++, kind.text, globalTid(p, tid), null, kind.id, gilDomain, interp, null]);

  const T0 = 1_000_000;
  push([T0 - 500_000, null, NVTX_DOMAIN_CREATE, null, 'CPython GIL', globalTid(pid, mainTid), null, null, gilDomain, null, null]);
  // The Node process creates its own domain with the SAME numeric id: ids are per process.
  push([T0 - 400_000, null, NVTX_DOMAIN_CREATE, null, 'node', globalTid(nodePid, nodeTid), null, null, gilDomain, null, null]);

  const threadName = options.threadName ?? 'worker';
  insThreadName.run(stringId('python3'), 20, globalTid(pid, mainTid));
  workerTids.forEach((tid, i) => {
    insThreadName.run(stringId(`python3`), 20, globalTid(pid, tid));
    insThreadName.run(stringId(`${threadName}-${i + 1}`), 0, globalTid(pid, tid));
  });
  insThreadName.run(stringId('writer'), 20, globalTid(pid, writerTid));
  insThreadName.run(stringId('node'), 20, globalTid(nodePid, nodeTid));

  const longAt = options.longHold === false ? -1 : Math.floor(holds / 2);
  const longHolder = gilTids[longAt % gilTids.length];
  let t = T0;
  const lastRelease = new Map(gilTids.map((tid) => [tid, T0]));
  let planted = null;
  let overlaps = 0;
  for (let i = 0; i < holds; i++) {
    const tid = gilTids[i % gilTids.length];
    const handoff = 1_000 + Math.floor(random() * 20_000);
    let holdStart = t + handoff;
    if (options.overlapEvery && i > 0 && i % options.overlapEvery === 0) {
      // The naive mutex patch: the next "hold" begins before the previous one ended.
      holdStart = t - 2_000;
      overlaps++;
    }
    const holdNs = i === longAt ? longHoldNs : 2_000 + Math.floor(random() * random() * 1_000_000);
    const holdEnd = holdStart + holdNs;
    const waitStart = Math.min(holdStart - 500, lastRelease.get(tid) + 1_000 + Math.floor(random() * 50_000));
    startEnd(waitStart, holdStart, tid, kindWait);
    if (holdStart - waitStart > 5_000_000) {
      push([waitStart + 5_000_000, null, NVTX_MARK, null, null, globalTid(pid, tid), null, dropId, gilDomain, interp, null]);
    }
    startEnd(holdStart, holdEnd, tid, kindHold);
    if (insSample) samples(globalTid(pid, tid), holdStart, holdEnd, i === longAt);
    if (insSched && i === longAt) {
      insSched.run(holdStart - 1_000, 1, globalTid(pid, tid));
      insSched.run(holdStart + 1_000_000, 0, globalTid(pid, tid));
      insSched.run(holdEnd - 1_000_000, 1, globalTid(pid, tid));
    }
    if (i === longAt) {
      planted = { tid, start: holdStart, end: holdEnd };
      // An fdatasync on the writer thread (which holds no GIL) during the long hold, and the holder's usleep.
      insOsrt.run(holdStart + 1_000_000, holdEnd - 5_000_000, globalTid(pid, writerTid), stringId('fdatasync'));
      insOsrt.run(holdStart + 500, holdEnd - 500, globalTid(pid, tid), stringId('usleep'));
      // A Node request in flight in another process.
      push([holdStart - 10_000_000, holdEnd + 3_000_000, NVTX_STARTEND, rangeId++, 'request /predict', globalTid(nodePid, nodeTid), globalTid(nodePid, nodeTid), null, gilDomain, null, 42]);
    }
    lastRelease.set(tid, holdEnd);
    t = holdEnd;
  }
  const traceEnd = t + 1_000_000;
  if (options.openFinalHold) {
    // ≤3.11: the main thread takes the GIL at exit and never releases it; nsys stretches it to trace end.
    const s = t + 10_000;
    startEnd(s - 400, s, mainTid, kindWait);
    startEnd(s, traceEnd, mainTid, kindHold);
  }
  if (options.badNames) {
    insThreadName.run(stringId('<script>alert(1)</script>'), 0, globalTid(pid, workerTids[0] ?? mainTid));
    const weird = db.prepare("INSERT INTO StringIds (id, value) VALUES (?, CAST(x'41ff00fe0a1b42' AS TEXT) || char(55296) || '\"\\')");
    weird.run(strings.size + 1000);
    insThreadName.run(strings.size + 1000, 0, globalTid(pid, workerTids[1] ?? mainTid));
  }
  // nsys 2022.4 writes NVTX_EVENTS in start order; newer versions promise no order (`shuffle`).
  rows.sort((a, b) => a[0] - b[0]);
  if (options.shuffle) {
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const tmpRow = rows[i];
      rows[i] = rows[j];
      rows[j] = tmpRow;
    }
  }
  const insertAll = db.transaction(() => {
    for (const r of rows) insNvtx.run(...r);
    db.prepare('INSERT INTO PROCESSES (globalPid, pid, name) VALUES (?, ?, ?)').run(globalTid(pid, 0), pid, options.processName ?? 'python3');
    db.prepare('INSERT INTO PROCESSES (globalPid, pid, name) VALUES (?, ?, ?)').run(globalTid(nodePid, 0), nodePid, 'node');
    db.prepare('INSERT INTO ANALYSIS_DETAILS VALUES (?, ?, 0, ?)').run(2 ** 48, traceEnd, traceEnd);
    if (options.collector) {
      db.prepare('INSERT INTO GILNVTX_META VALUES (?, ?)').run('producer', 'gil-nvtx collector');
      db.prepare('INSERT INTO GILNVTX_META VALUES (?, ?)').run('clock', 'CLOCK_MONOTONIC');
      db.prepare('INSERT INTO GILNVTX_META VALUES (?, ?)').run('version', '1');
    } else {
      db.prepare('INSERT INTO EXPORT_META_DATA VALUES (?, ?)').run('EXPORT_PRODUCT_VERSION', '2022.4.2.1');
    }
  });
  insertAll();
  db.close();
  if (existsSync(path)) rmSync(path);
  renameSync(tmp, path);
  return {
    path,
    nvtxRows: rows.length,
    holds: holds + (options.openFinalHold ? 1 : 0),
    overlaps,
    planted,
    pid,
    nodePid,
    mainTid,
    workerTids,
    writerTid,
    longHolder,
    traceEnd,
  };
}

// `node test-support/generate-trace.mjs out.sqlite [holds]`
if (import.meta.url === `file://${process.argv[1]}`) {
  const out = process.argv[2] ?? 'trace.sqlite';
  const holds = Number(process.argv[3] ?? 1_000_000);
  const started = Date.now();
  const info = generateTrace(out, { holds, threads: 8 });
  process.stdout.write(`${out}: ${info.nvtxRows} NVTX rows (${info.holds} holds) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
