// The trace.sqlite schema: the nsys 2022.4 export's tables that the report reads, with the same
// columns (the tables and columns nsys 2022.4 and 2024.2 export), plus GILNVTX_* tables only the collector has.

export const TRACE_SCHEMA_SQL = `
CREATE TABLE StringIds (
  id INTEGER NOT NULL PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE PROCESSES (
  globalPid INTEGER,
  pid INTEGER,
  name TEXT
);
CREATE TABLE ThreadNames (
  nameId INTEGER NOT NULL,
  priority INTEGER,
  globalTid INTEGER
);
CREATE TABLE NVTX_EVENTS (
  start INTEGER NOT NULL,
  end INTEGER,
  eventType INTEGER NOT NULL,
  rangeId INTEGER,
  category INTEGER,
  color INTEGER,
  text TEXT,
  globalTid INTEGER,
  endGlobalTid INTEGER,
  textId INTEGER,
  domainId INTEGER,
  uint64Value INTEGER,
  int64Value INTEGER,
  doubleValue REAL,
  uint32Value INTEGER,
  int32Value INTEGER,
  floatValue REAL,
  jsonTextId INTEGER,
  jsonText TEXT
);
CREATE TABLE ENUM_NSYS_EVENT_TYPE (
  id INTEGER NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  label TEXT
);
CREATE TABLE GILNVTX_META (
  key TEXT NOT NULL PRIMARY KEY,
  value TEXT
);
-- The watchdog's samples of GIL holds longer than its threshold, one row per sampling period:
-- (globalTid, holdStart) is the hold (holdStart equals its NVTX_EVENTS start); counters are cumulative
-- (differences between two samples of one hold give what happened in between), NULL = unreadable.
-- execNs / runqNs: /proc schedstat (on a CPU, runnable waiting for one); state: /proc stat (R, S, D…);
-- syscall: the number it sits in (-1 none); throttled*: the process's CPU cgroup; psi*: /proc/pressure.
CREATE TABLE GILNVTX_HOLD_SAMPLES (
  globalTid INTEGER,
  holdStart INTEGER,
  ts INTEGER,
  state TEXT,
  wchan TEXT,
  execNs INTEGER,
  runqNs INTEGER,
  minflt INTEGER,
  majflt INTEGER,
  syscall INTEGER,
  arg0 INTEGER,
  throttledNs INTEGER,
  nrThrottled INTEGER,
  psiCpuUs INTEGER,
  psiIoUs INTEGER,
  psiMemUs INTEGER
);
-- nvtxDomainResourceCreate / Destroy (nsys 2022.4 drops these).
CREATE TABLE GILNVTX_RESOURCES (
  globalTid INTEGER,
  domainId INTEGER,
  resourceId INTEGER,
  identifierType INTEGER,
  identifier INTEGER,
  textId INTEGER,
  text TEXT,
  created INTEGER,
  destroyed INTEGER
);
-- One row per collector file (a pid that exec'd has one per program image).
CREATE TABLE GILNVTX_PROCESSES (
  globalPid INTEGER,
  pid INTEGER,
  ppid INTEGER,
  forkedFrom INTEGER,
  start INTEGER,
  end INTEGER,
  cleanExit INTEGER,
  droppedEvents INTEGER,
  commandLine TEXT,
  file TEXT
);
`;

// No index on NVTX_EVENTS: nsys exports have none either, every query the report makes over it is one
// scan, and building one took a quarter of the merge's time.
export const TRACE_INDEX_SQL = `
CREATE INDEX GILNVTX_HOLD_SAMPLES_hold ON GILNVTX_HOLD_SAMPLES(globalTid, holdStart);
`;

const TWO63 = 2n ** 63n;

/**
 * SQLite integers are signed 64-bit, so a uint64 NVTX value (the `uint64Value` payload, a resource's
 * `identifier`) of 2^63 or more is stored as its two's-complement int64: it reads back negative, and
 * `BigInt.asUintN(64, v)` of the value read with `safeIntegers` restores it. Every value below 2^63
 * is stored as is. (better-sqlite3 refuses to bind a BigInt outside the int64 range.)
 */
export function uint64ForSqlite(v: number | bigint): number | bigint {
  return typeof v === 'bigint' && v >= TWO63 ? BigInt.asIntN(64, v) : v;
}
