// Mirror of native/collector/raw_format.h: the per-process file the collector writes and the watchdog's
// samples file. The C header documents the layout; test/trace/raw-format.test.ts compiles a program
// against the header and checks that every constant here equals what the C compiler makes of its twin.

export const RAW_MAGIC = 'GILNVTX1';
export const RAW_FORMAT_VERSION = 5;
export const RAW_HEADER_SIZE = 40960;
export const RAW_CHUNK_HEADER_SIZE = 32;
export const RAW_CHUNK_MAGIC = 0x4b4e4843;
export const RAW_FILE_SUFFIX = '.gnvtx';

export const HeaderOffset = {
  magic: 0,
  version: 8,
  chunkSize: 12,
  pid: 16,
  ppid: 20,
  startNs: 24,
  startRealtime: 32,
  endNs: 40,
  dropped: 48,
  forkedFrom: 56,
  cmdlineLen: 60,
  tickSource: 64,
  startTicks: 72,
  endTicks: 80,
  calTicks: 88,
  calNs: 96,
  cal0Ticks: 104,
  cal0Ns: 112,
  chunksTaken: 120,
  allocated: 128,
  selfAllocated: 136,
  watchCount: 144,
  watchdogPid: 148,
  exeDev: 152,
  exeIno: 160,
  ringChunks: 168,
  longHoldNs: 176,
  cmdline: 512,
} as const;

export const RAW_CMDLINE_MAX = 4096 - HeaderOffset.cmdline;

/** What record timestamps count (header `tickSource`); TSC ticks are converted through calibration pairs. */
export const TickSource = { ns: 0, tsc: 1 } as const;

export const ChunkOffset = { magic: 0, slot: 4, tid: 8, seq: 12, ranges: 16, gen: 24, owned: 28 } as const;

/** Ring mode: definition chunks before the ring (slot 0, never reused), and the smallest ring. */
export const RAW_RING_DEF_CHUNKS = 2;
export const RAW_RING_MIN_CHUNKS = 8;

export const RawKind = {
  push: 1,
  pop: 2,
  start: 3,
  end: 4,
  mark: 5,
  domain: 6,
  string: 7,
  category: 8,
  threadName: 9,
  resource: 10,
  resourceEnd: 11,
  thread: 12,
  domainEnd: 13,
  calibration: 14,
  compact: 15,
  template: 16,
} as const;

/** RAW_COMPACT ops (bits 8-10 of the word); bits 11-15 are the template index, or the end distance. */
export const RawOp = { push: 0, pop: 1, start: 2, end: 3, mark: 4 } as const;
export const RAW_COMPACT_ARGS = 32;

/** Range ids: slot << 40 | per-thread counter; bit 62 marks a GIL hold, bit 61 a GIL wait. */
export const RAW_RANGE_SLOT_SHIFT = 40;
export const RAW_RANGE_COUNTER_MASK = 2 ** RAW_RANGE_SLOT_SHIFT - 1;
export const RAW_RANGE_HOLD_BIT = 2 ** 62;
export const RAW_RANGE_WAIT_BIT = 2 ** 61;

export const RawFlag = {
  color: 0x01,
  category: 0x02,
  payloadShift: 2,
  payloadMask: 0x1c,
  registered: 0x20,
  inline: 0x40,
} as const;

/** The watchdog's samples file (`watchdog-<pid>.gsamp`): a header, then fixed-size samples. */
export const SAMPLE_MAGIC = 'GILSAMP1';
export const SAMPLE_FORMAT_VERSION = 1;
export const SAMPLE_HEADER_SIZE = 64;
export const SAMPLE_SIZE = 128;
export const SAMPLE_FILE_SUFFIX = '.gsamp';
export const SampleOffset = {
  pid: 0,
  tid: 4,
  ns: 8,
  holdSince: 16,
  execNs: 24,
  runqNs: 32,
  minflt: 40,
  majflt: 48,
  syscall: 56,
  arg0: 64,
  throttledNs: 72,
  nrThrottled: 80,
  psiCpuUs: 88,
  psiIoUs: 96,
  psiMemUs: 104,
  state: 112,
  wchan: 113,
} as const;

/** nvtxPayloadType_t values and the NVTX_EVENTS column each lands in (as nsys exports them). */
export const PayloadColumn: Record<number, 'uint64Value' | 'int64Value' | 'doubleValue' | 'uint32Value' | 'int32Value' | 'floatValue'> = {
  1: 'uint64Value',
  2: 'int64Value',
  3: 'doubleValue',
  4: 'uint32Value',
  5: 'int32Value',
  6: 'floatValue',
};

/** The watch table in page 1 of the header: one entry per recording thread, read by the watchdog. */
export const RawWatch = { offset: 4096, entrySize: 32, entries: 128, tid: 0, holdSince: 8, holds: 16, waitSince: 24 } as const;

/**
 * The metrics table (pages 2-9 of the header): per GIL and writing thread, counters and log-spaced
 * duration histograms (ns; bucket k's upper bound 2^(bucket0Log2 + 2k) ns, the last unbounded).
 */
export const RawMetrics = {
  offset: 8192,
  entrySize: 256,
  entries: 128,
  buckets: 12,
  bucket0Log2: 10,
  owner: 0,
  used: 4,
  gil: 8,
  holdNs: 24,
  waitNs: 40,
  longHolds: 48,
  drops: 56,
  holdBuckets: 64,
  waitBuckets: 160,
} as const;
