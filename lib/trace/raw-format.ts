// Mirror of native/collector/raw_format.h: the per-process file the collector writes. Keep the two in
// step; the C header documents the layout.

export const RAW_MAGIC = 'GILNVTX1';
export const RAW_FORMAT_VERSION = 2;
export const RAW_HEADER_SIZE = 4096;
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
  cmdline: 128,
} as const;

/** What record timestamps count (header `tickSource`); TSC ticks are converted through calibration pairs. */
export const TickSource = { ns: 0, tsc: 1 } as const;

export const ChunkOffset = { magic: 0, slot: 4, tid: 8, seq: 12 } as const;

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
} as const;

export const RawFlag = {
  color: 0x01,
  category: 0x02,
  payloadShift: 2,
  payloadMask: 0x1c,
  registered: 0x20,
  inline: 0x40,
  cpu: 0x80,
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
