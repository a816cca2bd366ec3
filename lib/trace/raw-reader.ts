import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { GilNvtxError } from '../errors.js';
import {
  ChunkOffset,
  HeaderOffset,
  PayloadColumn,
  RAW_CHUNK_HEADER_SIZE,
  RAW_CHUNK_MAGIC,
  RAW_CMDLINE_MAX,
  RAW_COMPACT_ARGS,
  RAW_FORMAT_VERSION,
  RAW_HEADER_SIZE,
  RAW_MAGIC,
  RAW_RANGE_WAIT_BIT,
  RAW_RANGE_SLOT_SHIFT,
  RawFlag,
  RawKind,
  RawOp,
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
  /** Chunks whose disk space a recording thread allocated itself (the watchdog was not ahead, or absent). */
  selfAllocatedChunks: number;
  /** pid of the watchdog that watched this file, 0 if none did. */
  watchdogPid: number;
  argv: string[];
  /** What record timestamps count: CLOCK_MONOTONIC ns (`clock_gettime`) or TSC ticks (`tsc`). */
  timestampSource: 'clock_gettime' | 'tsc';
  /** (ticks, CLOCK_MONOTONIC ns) pairs stored in the header (TSC files only); chunks hold more. */
  calibration: [number, number][];
}

export type PayloadValue = number | bigint;

/** What an event says besides its time: the attributes a push, start or mark carries. */
export interface EventAttrs {
  /** null when the event has none. */
  category: number | null;
  color: number | null;
  /** nvtxPayloadType_t, 0 = none. */
  payloadType: number;
  payload: PayloadValue;
  /** Registered string id, 0 = none. */
  stringId: number;
  /** Inline message. */
  text: string | null;
}

/**
 * One decoded record. The decoder reuses a single object for every record (a trace has millions), so a
 * visitor copies what it keeps. Compact events arrive as the push/pop/start/end/mark they stand for.
 */
export interface RawRecord extends EventAttrs {
  kind: number;
  flags: number;
  domain: number;
  /** Timestamp in the file's ticks. */
  ts: number;
  /** start/end: this thread slot's range number as slot * 2^32 + counter (ids are per process). */
  key: number;
  /** A one-word event (its end names a range this thread started: never a cross-thread end). */
  compact: boolean;
  /** RAW_STRING id, RAW_CATEGORY category, RAW_THREAD_NAME / RAW_THREAD tid, RAW_CALIBRATION ns. */
  value: number;
  identifierType: number;
  identifier: PayloadValue;
}

export interface RawChunk {
  offset: number;
  slot: number;
  tid: number;
  seq: number;
  /** Ranges the thread had started when it took the chunk: where its compact starts count from. */
  ranges: number;
}

interface Template extends Omit<EventAttrs, 'text'> {
  domain: number;
  flags: number;
}

const TWO32 = 4294967296;
// A range id's high word: the flag bits (RAW_RANGE_WAIT_BIT and up) cleared, the slot above
// RAW_RANGE_SLOT_SHIFT, the counter's high bits below it.
const ID_HI_MASK = RAW_RANGE_WAIT_BIT / TWO32 - 1;
const ID_HI_SLOT_SHIFT = RAW_RANGE_SLOT_SHIFT - 32;
const ID_HI_COUNTER_MASK = 2 ** ID_HI_SLOT_SHIFT - 1;
const COMPACT_OP_KIND = [RawKind.push, RawKind.pop, RawKind.start, RawKind.end, RawKind.mark];

/** Where a thread's decoding stands between calls that each decode some of its chunks. */
export interface DecodeState {
  /** Starts numbered so far (a compact end counts back from it). */
  counter: number;
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
      if (chunkSize < RAW_CHUNK_HEADER_SIZE + 64 || chunkSize % 8 !== 0) throw new GilNvtxError(`${file}: damaged header (chunk size ${chunkSize}).`);
      const endNs = u64(head, HeaderOffset.endNs);
      const cmdLen = Math.min(head.readUInt32LE(HeaderOffset.cmdlineLen), RAW_CMDLINE_MAX);
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
        selfAllocatedChunks: u64(head, HeaderOffset.selfAllocated),
        watchdogPid: head.readUInt32LE(HeaderOffset.watchdogPid),
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
      for (let off = RAW_HEADER_SIZE; off + RAW_CHUNK_HEADER_SIZE <= size; off += chunkSize) {
        if (readSync(this.fd, ch, 0, RAW_CHUNK_HEADER_SIZE, off) !== RAW_CHUNK_HEADER_SIZE) break;
        if (ch.readUInt32LE(ChunkOffset.magic) !== RAW_CHUNK_MAGIC) continue; // allocated, never handed out
        if (ch.readUInt32LE(ChunkOffset.gen) & 1) continue; // a ring chunk caught while being reused
        const chunk = {
          offset: off, slot: ch.readUInt32LE(ChunkOffset.slot), tid: ch.readUInt32LE(ChunkOffset.tid), seq: ch.readUInt32LE(ChunkOffset.seq), ranges: u64(ch, ChunkOffset.ranges),
        };
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

  /**
   * Decodes one thread slot's records in the order the thread wrote them, calling `visit` with one
   * reused record object each time. `from`/`to` limit it to some of the slot's chunks; `state` carries
   * what the next call needs (chunks are self-contained but for the range numbering). `buffer` is the
   * chunk buffer to use (callers decoding several threads at once give each its own).
   */
  decode(
    thread: { slot: number; chunks: RawChunk[] },
    visit: (r: RawRecord) => void,
    opts: { from?: number; to?: number; state?: DecodeState; buffer?: Buffer } = {},
  ): void {
    const b = opts.buffer ?? this.buf;
    const r: RawRecord = {
      kind: 0, flags: 0, domain: 0, ts: 0, key: 0, category: null, color: null, payloadType: 0, payload: 0, stringId: 0,
      text: null, compact: false, value: 0, identifierType: 0, identifier: 0,
    };
    const templates: (Template | undefined)[] = new Array(RAW_COMPACT_ARGS);
    const slotBase = thread.slot * TWO32;
    const state = opts.state ?? { counter: 0 };
    let counter = state.counter;
    const to = Math.min(opts.to ?? thread.chunks.length, thread.chunks.length);
    for (let ci = opts.from ?? 0; ci < to; ci++) {
      const chunk = thread.chunks[ci]!;
      // Chunks can be shorter on disk than their size when the file was cut (a full disk, a copy).
      const n = readSync(this.fd, b, 0, b.length, chunk.offset);
      templates.fill(undefined); // each chunk restates the templates it uses
      // A ring's window can begin at any chunk of the thread: the chunk says where the numbering stands.
      counter = chunk.ranges;
      let lastTs = 0;
      let p = RAW_CHUNK_HEADER_SIZE;
      while (p + 8 <= n) {
        const lo = b.readUInt32LE(p);
        if (lo === 0) break; // end of this chunk's data (or a record a kill interrupted)
        const kind = lo & 0xff;
        const words = lo >>> 16;
        if (kind === RawKind.compact) {
          if (words !== 1) break;
          const op = (lo >>> 8) & 7;
          const arg = (lo >>> 11) & 31;
          lastTs += b.readUInt32LE(p + 4);
          p += 8;
          r.kind = COMPACT_OP_KIND[op] ?? 0;
          r.ts = lastTs;
          r.text = null;
          r.compact = true;
          if (op === RawOp.end) {
            r.key = slotBase + (counter - arg);
            r.flags = 0;
            r.domain = 0;
            r.category = null;
            r.color = null;
            r.payloadType = 0;
            r.stringId = 0;
          } else {
            const t = templates[arg];
            if (!t || r.kind === 0) continue; // damaged chunk: a compact event without its template
            r.domain = t.domain;
            r.flags = t.flags;
            r.category = t.category;
            r.color = t.color;
            r.payloadType = t.payloadType;
            r.payload = t.payload;
            r.stringId = t.stringId;
            if (op === RawOp.start) r.key = slotBase + ++counter;
          }
          visit(r);
          continue;
        }
        if (words < 2 || p + words * 8 > n) break;
        const flags = (lo >>> 8) & 0xff;
        r.kind = kind;
        r.flags = flags;
        r.domain = b.readUInt32LE(p + 4);
        r.ts = lastTs = u64(b, p + 8);
        r.text = null;
        r.compact = false;
        r.category = null;
        r.color = null;
        r.payloadType = 0;
        r.stringId = 0;
        let w = p + 16;
        switch (kind) {
          case RawKind.start: {
            const idLo = b.readUInt32LE(w);
            const idHi = b.readUInt32LE(w + 4) & ID_HI_MASK;
            const slot = idHi >>> ID_HI_SLOT_SHIFT;
            const c = (idHi & ID_HI_COUNTER_MASK) * TWO32 + idLo;
            if (slot === thread.slot) counter = c;
            r.key = slot * TWO32 + c;
            w = readAttrs(b, w + 8, flags, r);
            visit(r);
            break;
          }
          case RawKind.push:
          case RawKind.mark:
            readAttrs(b, w, flags, r);
            visit(r);
            break;
          case RawKind.template: {
            const index = u64(b, w);
            readAttrs(b, w + 8, flags, r);
            if (index < RAW_COMPACT_ARGS) {
              templates[index] = { domain: r.domain, flags, category: r.category, color: r.color, payloadType: r.payloadType, payload: r.payload, stringId: r.stringId };
            }
            break;
          }
          case RawKind.end: {
            const idLo = b.readUInt32LE(w);
            const idHi = b.readUInt32LE(w + 4) & ID_HI_MASK;
            r.key = (idHi >>> ID_HI_SLOT_SHIFT) * TWO32 + (idHi & ID_HI_COUNTER_MASK) * TWO32 + idLo;
            visit(r);
            break;
          }
          case RawKind.pop:
          case RawKind.domainEnd:
            visit(r);
            break;
          case RawKind.domain:
            r.text = readString(b, w)[0];
            visit(r);
            break;
          case RawKind.string:
          case RawKind.category:
          case RawKind.threadName:
          case RawKind.thread:
            r.value = u64(b, w);
            r.text = readString(b, w + 8)[0];
            visit(r);
            break;
          case RawKind.resource:
            r.key = u64(b, w);
            r.identifierType = b.readUInt32LE(w + 8);
            r.identifier = bigOrNumber(b.readBigUInt64LE(w + 16));
            if (flags & RawFlag.registered) r.stringId = u64(b, w + 24);
            else if (flags & RawFlag.inline) r.text = readString(b, w + 24)[0];
            visit(r);
            break;
          case RawKind.resourceEnd:
            r.key = u64(b, w);
            visit(r);
            break;
          case RawKind.calibration:
            r.value = u64(b, w); // CLOCK_MONOTONIC ns read at tick `ts`
            visit(r);
            break;
          default:
            break; // unknown kinds from a newer collector: skipped by their word count
        }
        p += words * 8;
      }
    }
    state.counter = counter;
  }

  /** A chunk-sized buffer for `decode({ buffer })`. */
  chunkBuffer(): Buffer {
    return Buffer.alloc(this.header.chunkSize);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** [category|color] [payload] [string id | inline string], as the flags say; returns the next offset. */
function readAttrs(b: Buffer, w: number, flags: number, r: RawRecord): number {
  if (flags & (RawFlag.color | RawFlag.category)) {
    if (flags & RawFlag.category) r.category = b.readUInt32LE(w);
    if (flags & RawFlag.color) r.color = b.readUInt32LE(w + 4);
    w += 8;
  }
  const type = (flags & RawFlag.payloadMask) >> RawFlag.payloadShift;
  if (type && PayloadColumn[type]) {
    r.payloadType = type;
    r.payload = readPayload(b, w, type);
    w += 8;
  }
  if (flags & RawFlag.registered) {
    r.stringId = u64(b, w);
    w += 8;
  } else if (flags & RawFlag.inline) {
    let text: string;
    [text, w] = readString(b, w);
    r.text = text;
  }
  return w;
}

function u64(b: Buffer, off: number): number {
  return b.readUInt32LE(off + 4) * TWO32 + b.readUInt32LE(off);
}

function bigOrNumber(v: bigint): PayloadValue {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

function readString(b: Buffer, off: number): [string, number] {
  const len = Math.min(u64(b, off), b.length - off - 8);
  return [b.toString('utf8', off + 8, off + 8 + len), off + 8 + Math.ceil(len / 8) * 8];
}

function readPayload(b: Buffer, off: number, type: number): PayloadValue {
  switch (type) {
    case 1: {
      const hi = b.readUInt32LE(off + 4);
      // Small values (interpreter ids, most payloads) without a BigInt.
      return hi < 0x200000 ? hi * TWO32 + b.readUInt32LE(off) : bigOrNumber(b.readBigUInt64LE(off));
    }
    case 2:
      return bigOrNumber(b.readBigInt64LE(off));
    case 3:
      return b.readDoubleLE(off);
    case 4:
      return b.readUInt32LE(off);
    case 5:
      return b.readInt32LE(off);
    default:
      return b.readFloatLE(off);
  }
}
