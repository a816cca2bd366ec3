// The trace.sqlite schema: the nsys 2022.4 export's tables that the report reads, with the same
// columns (shared/notes/nsys.md §6), plus GILNVTX_* tables only the collector has.

export const NsysEventType = {
  category: 33,
  mark: 34,
  threadName: 39,
  pushPop: 59,
  startEnd: 60,
  domainCreate: 75,
  domainDestroy: 76,
} as const;

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
-- Thread CPU time (CLOCK_THREAD_CPUTIME_ID) consumed during each range of the CPython GIL domain;
-- on-CPU fraction = cpuNs / (end - start). NULL cpuNs: the range ended on another thread.
CREATE TABLE GILNVTX_RANGE_CPU (
  globalTid INTEGER,
  start INTEGER,
  end INTEGER,
  cpuNs INTEGER
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

export const TRACE_INDEX_SQL = `
CREATE INDEX GILNVTX_NVTX_EVENTS_start ON NVTX_EVENTS(start);
`;

export const EVENT_TYPE_NAMES: [number, string, string][] = [
  [33, 'NVTX_CATEGORY', 'NvtxCategory'],
  [34, 'NVTX_MARK', 'NvtxMark'],
  [39, 'NVTX_THREAD', 'NvtxThread'],
  [59, 'NVTX_PUSHPOP_RANGE', 'NvtxPushPopRange'],
  [60, 'NVTX_STARTEND_RANGE', 'NvtxStartEndRange'],
  [75, 'NVTX_DOMAIN_CREATE', 'NvtxDomainCreate'],
  [76, 'NVTX_DOMAIN_DESTROY', 'NvtxDomainDestroy'],
];

/** nsys packs (pid, tid) this way; readers must mask both parts with 0xFFFFFF. */
export function globalTid(pid: number, tid: number): number {
  return (pid & 0xffffff) * 0x100_0000 + (tid & 0xffffff);
}

export function globalPid(pid: number): number {
  return (pid & 0xffffff) * 0x100_0000;
}
