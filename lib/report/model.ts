// The loaded trace: what the analysis passes work on. GIL ranges are kept column-wise in typed arrays
// (a 2M-row export would cost hundreds of MB as objects), one set of columns per GIL.

/** The NVTX contract of the GIL patch (design.md). */
export const GIL_DOMAIN = 'CPython GIL';
export const WAITING_MESSAGE = 'Waiting for GIL';
export const HOLDING_MESSAGE = 'Holding GIL';
export const DROP_REQUEST_MESSAGE = 'GIL drop request';

export interface ProcessInfo {
  pid: number;
  name: string;
}

export interface ThreadInfo {
  /** Index into `LoadedTrace.threads`; the typed arrays store this. */
  index: number;
  globalTid: number;
  pid: number;
  tid: number;
  name: string;
}

/** Growable column of numbers backed by a typed array. */
export class Column<T extends Float64Array | Int32Array> {
  data: T;
  length = 0;
  constructor(private readonly make: (n: number) => T, capacity = 1024) {
    this.data = make(capacity);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
  /** The filled part, without copying. */
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

export const f64 = (n = 1024) => new Column<Float64Array>((k) => new Float64Array(k), n);
export const i32 = (n = 1024) => new Column<Int32Array>((k) => new Int32Array(k), n);

/** Ranges of one kind (holds or waits) on one GIL, sorted by start. */
export interface RangeColumns {
  start: Float64Array;
  end: Float64Array;
  thread: Int32Array;
  /** 1 when the range was still open at trace end (no end, or nsys stretched it to the end). */
  open: Uint8Array;
  count: number;
}

export interface MarkColumns {
  time: Float64Array;
  thread: Int32Array;
  count: number;
}

/** One GIL: a process and the interpreter id carried in the payload (3.12+ own GILs differ). */
export interface GilEvents {
  key: string;
  pid: number;
  interpreterId: number;
  holds: RangeColumns;
  waits: RangeColumns;
  drops: MarkColumns;
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
  /** Processes that have a GIL domain. */
  processes: Map<number, ProcessInfo>;
  /** Every process the trace names (PROCESSES), GIL or not, by pid. */
  processNames: Map<number, string>;
  /** Threads that have GIL ranges; GIL columns index into this. */
  threads: ThreadInfo[];
  /** Best name of every thread in the trace (ThreadNames, lowest priority wins), by globalTid. */
  threadNames: Map<number, string>;
  /** NVTX domain names by `${pid}/${domainId}` (domain ids are per process). */
  domainNames: Map<string, string>;
  gils: GilEvents[];
  /** SQL condition (over NVTX_EVENTS columns) true for rows of a GIL domain. */
  gilRowFilter: string;
  /** Tables the optional analyses depend on. */
  has: { osrt: boolean; sched: boolean; holdSamples: boolean; threadNames: boolean; processes: boolean };
  /** Lets blame and Perfetto query the database lazily; `close()` releases it. */
  db: import('better-sqlite3').Database;
  schema: import('./schema.js').TraceSchema;
  close(): void;
}

/** Index of the first of the `count` sorted `starts` that is ≥ `value` (`count` when none is). */
export function firstStartAtOrAfter(starts: Float64Array, count: number, value: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
