// The loaded trace: what the analysis passes work on. Everything but the GIL ranges is small (threads,
// names, bounds); the ranges stay in their source and are streamed per GIL, so memory follows the number
// of threads and `--top`, not the length of the trace.

export interface ProcessInfo {
  pid: number;
  name: string;
}

export interface ThreadInfo {
  /** Index into `LoadedTrace.threads`; GIL scans pass this. */
  index: number;
  globalTid: number;
  pid: number;
  tid: number;
  name: string;
}

/** The three GIL events the patch emits; `GilVisitor`'s `kind`. */
export const GilEventKind = { wait: 0, hold: 1, drop: 2 } as const;

/**
 * One GIL event. `kind`: a `GilEventKind`; `start`/`end` in ns on the trace's clock (`end === start` for a
 * drop request); `thread`: index into `LoadedTrace.threads`; `open`: the range never closed and was cut
 * where its producer stopped (see `cutOpenRanges`).
 */
export type GilVisitor = (kind: number, start: number, end: number, thread: number, open: boolean) => void;

/**
 * One GIL: a process and the interpreter id carried in the payload (3.12+ own GILs differ). Its ranges are
 * not held in memory: a 20M-range trace would cost gigabytes, so every analysis streams them through `scan`.
 */
export interface GilRanges {
  key: string;
  pid: number;
  interpreterId: number;
  counts: { holds: number; waits: number; drops: number };
  /** Every wait, hold and drop request of this GIL in start order (ties in any order). May be called any number of times; each call re-reads its source. */
  scan(visit: GilVisitor): void;
}

/** The threads that have GIL events; `GilVisitor`'s `thread` indexes this. */
export type ThreadTable = ThreadInfo[];

/**
 * What a GIL range source hands `readTrace` (the SQLite source in `source-sqlite.ts`; any other source
 * returns the same). Its scans pass a missing end as NaN and `open` as false: where a never-closed range
 * is cut depends on the process's end, which `readTrace` settles and `cutOpenRanges` applies.
 */
export interface GilSource {
  /** globalTid of each thread index the scans pass. */
  threadIds: number[];
  /** Earliest range start and latest range end present (±Infinity without ranges): trace bounds of last resort. */
  firstStart: number;
  lastEnd: number;
  /** Sorted by pid, then interpreter id. */
  gils: GilRanges[];
  /** GIL rows left out because they cannot be a GIL event (see `BadRows`). */
  badRows: BadRows;
}

/**
 * GIL rows no instrumentation writes, counted and left out of every analysis (a hand-edited or damaged
 * export): otherwise they show as negative durations, NaN totals, or an unclosed hold "overlapping"
 * every later one.
 */
export interface BadRows {
  /** start is NULL or not a number (text, blob), or end is text. */
  badTimestamp: number;
  /** end < start. */
  endBeforeStart: number;
  /** globalTid is NULL or not a number. */
  noThread: number;
  /** A wait or hold without an end that is not its thread's last one: it cannot still be open. */
  unendedBeforeLast: number;
}

export function badRowCount(b: BadRows): number {
  return b.badTimestamp + b.endBeforeStart + b.noThread + b.unendedBeforeLast;
}

/**
 * The ranges as the analyses see them. `openAt`: where the producer cuts ranges that never closed —
 * nsys at trace end, the collector at the end of the process; a range ending there (or with no end at
 * all) is open. `Infinity` when unknown: then only a missing end means open, and it is cut at `traceEnd`.
 * An open range never ends before it starts.
 */
export function cutOpenRanges(gil: GilRanges, openAt: number, traceEnd: number): GilRanges {
  const cut = Number.isFinite(openAt) ? openAt : traceEnd;
  return {
    key: gil.key,
    pid: gil.pid,
    interpreterId: gil.interpreterId,
    counts: gil.counts,
    scan(visit) {
      gil.scan((kind, start, end, thread) => {
        if (kind === GilEventKind.drop) visit(kind, start, start, thread, false);
        else if (end < openAt) visit(kind, start, end, thread, false);
        else visit(kind, start, Math.max(Number.isNaN(end) ? cut : end, start), thread, true);
      });
    },
  };
}

/** A thread's name in the trace, or what the report calls a thread that has none. */
export function threadNameOf(names: Map<number, string>, globalTid: number, pid: number, tid: number): string {
  return names.get(globalTid) ?? (tid === pid ? 'main' : `thread ${tid}`);
}

/** How the report names NVTX's default domain (id 0, no name of its own). */
export const DEFAULT_DOMAIN_NAME = '(default)';

/** The name of NVTX domain `domainId` of process `pid`; `domain N` when the trace lacks its creation. */
export function domainNameOf(trace: Pick<LoadedTrace, 'domainNames'>, pid: number, domainId: number | null): string {
  if (!domainId) return DEFAULT_DOMAIN_NAME;
  return trace.domainNames.get(`${pid}/${domainId}`) ?? `domain ${domainId}`;
}

export type TraceProducer = 'nsys' | 'gil-nvtx collector' | 'unknown';

export interface LoadedTrace {
  /** The file the user named. */
  source: string;
  /** The SQLite file actually read. */
  sqlitePath: string;
  producer: TraceProducer;
  producerVersion: string | null;
  /** Trace end in the trace's clock (ns); open ranges end here. */
  traceStart: number;
  traceEnd: number;
  /** Events the recorder counted as lost (the collector's file could not grow); 0 when it says none. */
  droppedEvents: number;
  /** GIL rows left out as unusable (GilSource.badRows). */
  badRows: BadRows;
  /** Processes that have a GIL domain. */
  processes: Map<number, ProcessInfo>;
  /** Every process the trace names (PROCESSES), GIL or not, by pid. */
  processNames: Map<number, string>;
  /** Threads that have GIL ranges; GIL scans index into this. */
  threads: ThreadTable;
  /** Best name of every thread in the trace (ThreadNames, lowest priority wins), by globalTid. */
  threadNames: Map<number, string>;
  /** NVTX domain names by `${pid}/${domainId}` (domain ids are per process). */
  domainNames: Map<string, string>;
  gils: GilRanges[];
  /**
   * SQL condition true for NVTX_EVENTS rows of a GIL domain, of every GIL source present; `alias` is
   * the table's alias in the query (columns unqualified without one).
   */
  gilRowFilter(alias?: string): string;
  /**
   * SQL condition true for NVTX_EVENTS rows outside every GIL domain. In a collector trace the merge
   * wrote the GIL rows last, in one block: the condition then also bounds the rowid, so SQLite reads
   * only the rows before that block instead of the whole table.
   */
  nonGilRowFilter(alias?: string): string;
  /** The GIL source `gils` come from; null when the trace has none (loaded with `requireGil: false`). */
  gilSource: import('./types.js').GilSourceReport | null;
  /** Tables the optional analyses depend on. */
  has: { osrt: boolean; sched: boolean; holdSamples: boolean; threadNames: boolean; processes: boolean };
  /** Lets blame and Perfetto query the database lazily; `close()` releases it. */
  db: import('better-sqlite3').Database;
  schema: import('./schema.js').TraceSchema;
  close(): void;
}
