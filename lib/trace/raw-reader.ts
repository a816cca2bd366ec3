import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { GilNvtxError } from '../errors.js';
import {
  ChunkOffset,
  HeaderOffset,
  PayloadColumn,
  RAW_CHUNK_HEADER_SIZE,
  RAW_CHUNK_MAGIC,
  RAW_FORMAT_VERSION,
  RAW_HEADER_SIZE,
  RAW_MAGIC,
  RawFlag,
  RawKind,
  TickSource,
} from './raw-format.js';

export interface RawProcessHeader {
  file: string;
  pid: number;
  ppid: number;
  /** Parent pid when this file was started by a fork child, else 0. */
  forkedFrom: number;
  chunkSize: number;
  startNs: number;
  startRealtimeNs: number;
  /** CLOCK_MONOTONIC at exit(); null when the process ended without running atexit (_exit, a signal). */
  endNs: number | null;
  droppedEvents: number;
  argv: string[];
  /** What record timestamps count: CLOCK_MONOTONIC ns (`clock_gettime`) or TSC ticks (`tsc`). */
  timestampSource: 'clock_gettime' | 'tsc';
  /** (ticks, CLOCK_MONOTONIC ns) pairs stored in the header (TSC files only); chunks hold more. */
  calibration: [number, number][];
}

export type PayloadValue = { column: (typeof PayloadColumn)[number]; value: number | bigint };

/** One decoded record. Strings are inline text; `stringId` refers to a registered string. */
export interface RawRecord {
  kind: number;
  flags: number;
  domain: number;
  ts: number;
  /** start/end range id as "hi:lo" (ids use all 64 bits); resource id for resources. */
  id?: string;
  category?: number;
  color?: number;
  payload?: PayloadValue;
  stringId?: number;
  text?: string;
  cpuNs?: number;
  /** RAW_STRING id, RAW_CATEGORY category, RAW_THREAD_NAME / RAW_THREAD tid. */
  value?: number;
  identifierType?: number;
  identifier?: bigint;
}

export interface RawChunk {
  offset: number;
  slot: number;
  tid: number;
  seq: number;
}

/** A collector file, opened for reading chunk by chunk (it can be larger than memory). */
export class RawTraceFile {
  readonly header: RawProcessHeader;
  /** Chunks grouped by thread slot, in slot order, each slot's chunks in sequence. */
  readonly threads: { slot: number; tid: number; chunks: RawChunk[] }[];
  private readonly fd: number;
  private readonly buf: Buffer;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'r');
    try {
      const size = fstatSync(this.fd).size;
      const head = Buffer.alloc(RAW_HEADER_SIZE);
      if (size < RAW_HEADER_SIZE || readSync(this.fd, head, 0, RAW_HEADER_SIZE, 0) !== RAW_HEADER_SIZE) {
        throw new GilNvtxError(`${file}: too short to be a gil-nvtx collector file.`);
      }
      if (head.toString('latin1', 0, 8) !== RAW_MAGIC) throw new GilNvtxError(`${file}: not a gil-nvtx collector file (bad magic).`);
      const version = head.readUInt32LE(HeaderOffset.version);
      if (version !== RAW_FORMAT_VERSION) {
        throw new GilNvtxError(`${file}: collector format ${version}, this gil-nvtx reads ${RAW_FORMAT_VERSION}.`, {
          hint: 'Merge the trace with the gil-nvtx version that recorded it.',
        });
      }
      const chunkSize = head.readUInt32LE(HeaderOffset.chunkSize);
      const endNs = u64(head, HeaderOffset.endNs);
      const cmdLen = Math.min(head.readUInt32LE(HeaderOffset.cmdlineLen), RAW_HEADER_SIZE - HeaderOffset.cmdline);
      const argv = head.toString('utf8', HeaderOffset.cmdline, HeaderOffset.cmdline + cmdLen).split('\0').filter((s, i, a) => s !== '' || i < a.length - 1);
      this.header = {
        file,
        pid: head.readUInt32LE(HeaderOffset.pid),
        ppid: head.readUInt32LE(HeaderOffset.ppid),
        forkedFrom: head.readUInt32LE(HeaderOffset.forkedFrom),
        chunkSize,
        startNs: u64(head, HeaderOffset.startNs),
        startRealtimeNs: u64(head, HeaderOffset.startRealtime),
        endNs: endNs === 0 ? null : endNs,
        droppedEvents: u64(head, HeaderOffset.dropped),
        argv,
        timestampSource: 'clock_gettime',
        calibration: [],
      };
      const source = head.readUInt32LE(HeaderOffset.tickSource);
      if (source === TickSource.tsc) {
        this.header.timestampSource = 'tsc';
        const pairs: [number, number][] = [
          [u64(head, HeaderOffset.cal0Ticks), u64(head, HeaderOffset.cal0Ns)],
          [u64(head, HeaderOffset.calTicks), u64(head, HeaderOffset.calNs)],
          [u64(head, HeaderOffset.startTicks), this.header.startNs],
        ];
        if (endNs !== 0) pairs.push([u64(head, HeaderOffset.endTicks), endNs]);
        this.header.calibration = pairs.filter(([t, n]) => t !== 0 && n !== 0);
      } else if (source !== TickSource.ns) {
        throw new GilNvtxError(`${file}: unknown timestamp source ${source} in a collector file.`, {
          hint: 'Merge the trace with the gil-nvtx version that recorded it.',
        });
      }
      this.buf = Buffer.alloc(chunkSize);
      const bySlot = new Map<number, { slot: number; tid: number; chunks: RawChunk[] }>();
      const ch = Buffer.alloc(RAW_CHUNK_HEADER_SIZE);
      for (let off = RAW_HEADER_SIZE; off + chunkSize <= size; off += chunkSize) {
        if (readSync(this.fd, ch, 0, RAW_CHUNK_HEADER_SIZE, off) !== RAW_CHUNK_HEADER_SIZE) break;
        if (ch.readUInt32LE(ChunkOffset.magic) !== RAW_CHUNK_MAGIC) continue; // reserved, never handed out
        const chunk = { offset: off, slot: ch.readUInt32LE(ChunkOffset.slot), tid: ch.readUInt32LE(ChunkOffset.tid), seq: ch.readUInt32LE(ChunkOffset.seq) };
        let t = bySlot.get(chunk.slot);
        if (!t) bySlot.set(chunk.slot, (t = { slot: chunk.slot, tid: chunk.tid, chunks: [] }));
        t.chunks.push(chunk);
      }
      this.threads = [...bySlot.values()].sort((a, b) => a.slot - b.slot);
      for (const t of this.threads) t.chunks.sort((a, b) => a.seq - b.seq);
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  /** Records of one thread slot, in the order the thread wrote them. */
  *records(thread: { chunks: RawChunk[] }): Generator<RawRecord> {
    const buf = this.buf;
    for (const chunk of thread.chunks) {
      const n = readSync(this.fd, buf, 0, buf.length, chunk.offset);
      let p = RAW_CHUNK_HEADER_SIZE;
      while (p + 16 <= n) {
        const lo = buf.readUInt32LE(p);
        if (lo === 0) break; // end of this chunk's data (or a record a kill interrupted)
        const words = lo >>> 16;
        if (words < 2 || p + words * 8 > n) break;
        yield decode(buf, p, lo & 0xff, (lo >>> 8) & 0xff, buf.readUInt32LE(p + 4), words);
        p += words * 8;
      }
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

function u64(b: Buffer, off: number): number {
  return b.readUInt32LE(off + 4) * 0x1_0000_0000 + b.readUInt32LE(off);
}

function readString(b: Buffer, off: number): [string, number] {
  const len = u64(b, off);
  return [b.toString('utf8', off + 8, off + 8 + len), off + 8 + Math.ceil(len / 8) * 8];
}

function readPayload(b: Buffer, off: number, type: number): PayloadValue | undefined {
  const column = PayloadColumn[type];
  if (!column) return undefined;
  switch (type) {
    case 1: {
      const v = b.readBigUInt64LE(off);
      return { column, value: v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v };
    }
    case 2: {
      const v = b.readBigInt64LE(off);
      return { column, value: v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v };
    }
    case 3:
      return { column, value: b.readDoubleLE(off) };
    case 4:
      return { column, value: b.readUInt32LE(off) };
    case 5:
      return { column, value: b.readInt32LE(off) };
    default:
      return { column, value: b.readFloatLE(off) };
  }
}

function decode(b: Buffer, p: number, kind: number, flags: number, domain: number, words: number): RawRecord {
  const r: RawRecord = { kind, flags, domain, ts: u64(b, p + 8) };
  let w = p + 16;
  switch (kind) {
    case RawKind.push:
    case RawKind.start:
    case RawKind.mark:
      if (kind === RawKind.start) {
        r.id = `${b.readUInt32LE(w + 4) & 0x7fffffff}:${b.readUInt32LE(w)}`;
        w += 8;
      }
      if (flags & (RawFlag.color | RawFlag.category)) {
        if (flags & RawFlag.category) r.category = b.readUInt32LE(w);
        if (flags & RawFlag.color) r.color = b.readUInt32LE(w + 4);
        w += 8;
      }
      if (flags & RawFlag.payloadMask) {
        r.payload = readPayload(b, w, (flags & RawFlag.payloadMask) >> RawFlag.payloadShift);
        w += 8;
      }
      if (flags & RawFlag.registered) {
        r.stringId = u64(b, w);
        w += 8;
      } else if (flags & RawFlag.inline) {
        [r.text, w] = readString(b, w);
      }
      if (flags & RawFlag.cpu) r.cpuNs = u64(b, w);
      break;
    case RawKind.pop:
    case RawKind.end:
      if (kind === RawKind.end) {
        r.id = `${b.readUInt32LE(w + 4) & 0x7fffffff}:${b.readUInt32LE(w)}`;
        w += 8;
      }
      if (flags & RawFlag.cpu) r.cpuNs = u64(b, w);
      break;
    case RawKind.domain:
      [r.text] = readString(b, w);
      break;
    case RawKind.string:
    case RawKind.category:
    case RawKind.threadName:
    case RawKind.thread:
      r.value = u64(b, w);
      [r.text] = readString(b, w + 8);
      break;
    case RawKind.resource:
      r.id = String(u64(b, w));
      r.identifierType = b.readUInt32LE(w + 8);
      r.identifier = b.readBigUInt64LE(w + 16);
      w += 24;
      if (flags & RawFlag.registered) r.stringId = u64(b, w);
      else if (flags & RawFlag.inline) [r.text] = readString(b, w);
      break;
    case RawKind.resourceEnd:
      r.id = String(u64(b, w));
      break;
    case RawKind.calibration:
      r.value = u64(b, w); // CLOCK_MONOTONIC ns read at tick `ts`
      break;
    default:
      break; // unknown kinds from a newer collector: skipped by their word count
  }
  void words;
  return r;
}
