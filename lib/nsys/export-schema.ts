// The ids of nsys's SQLite export that every reader and writer of one shares: the NVTX event types
// (ENUM_NSYS_EVENT_TYPE) and how a globalTid packs a process and a thread. The report reads nsys's
// exports with them, the collector's merge (lib/trace) writes its trace.sqlite with them;
// test/nvtx/nsys.test.ts checks them against a real nsys export.

/** NVTX_EVENTS.eventType values (ENUM_NSYS_EVENT_TYPE ids). */
export const NsysEventType = {
  category: 33,
  mark: 34,
  threadName: 39,
  pushPop: 59,
  startEnd: 60,
  domainCreate: 75,
  domainDestroy: 76,
} as const;

/** ENUM_NSYS_EVENT_TYPE rows (id, name) of the event types above; nsys 2022.4 writes the name as the label too. */
export const EVENT_TYPE_NAMES: readonly [number, string][] = [
  [NsysEventType.category, 'NvtxCategory'],
  [NsysEventType.mark, 'NvtxMark'],
  [NsysEventType.threadName, 'NvtxThread'],
  [NsysEventType.pushPop, 'NvtxPushPopRange'],
  [NsysEventType.startEnd, 'NvtxStartEndRange'],
  [NsysEventType.domainCreate, 'NvtxDomainCreate'],
  [NsysEventType.domainDestroy, 'NvtxDomainDestroy'],
];

// A globalTid is `high part | pid << 24 | tid`, pid and tid in 24 bits each. nsys sets a high part
// (bits 48 and up, its own ids); the collector writes none. Readers therefore take pid and tid out
// with masks and never compare whole globalTids of two producers.
const TWO24 = 0x100_0000;
const TWO48 = 2 ** 48;

/** The globalTid the collector writes for (pid, tid): no high part. */
export function globalTid(pid: number, tid: number): number {
  return (pid & 0xffffff) * TWO24 + (tid & 0xffffff);
}

/** The collector's globalPid of `pid` (PROCESSES, GILNVTX_PROCESSES): its globalTid with tid 0. */
export function globalPid(pid: number): number {
  return globalTid(pid, 0);
}

export function pidOf(globalTid: number): number {
  return Math.floor(globalTid / TWO24) % TWO24;
}

export function tidOf(globalTid: number): number {
  return globalTid % TWO24;
}

/** (pid, tid) of a globalTid of either producer as one number: `globalTid(pid, tid)`, without the high part. */
export function threadKey(globalTid: number): number {
  return globalTid % TWO48;
}

/** SQL for `pidOf` of the globalTid column (or expression) `column`. */
export function pidOfSql(column: string): string {
  return `((${column} >> 24) & 16777215)`;
}

/** SQL for `tidOf` of the globalTid column (or expression) `column`. */
export function tidOfSql(column: string): string {
  return `(${column} & 16777215)`;
}
