// Copies a window of time out of the collector's rings (ring mode, native/collector/raw_format.h) into
// ordinary raw files that mergeTrace reads. The rings are files the traced processes keep writing
// through shared mappings; plain reads see the same page cache, so copying never stops or slows them.
// A chunk is copied between two reads of its generation (the collector's seqlock): a chunk reused
// meanwhile is left out rather than read half old, half new. A chunk copied while its thread still
// wrote it and reused before the next copy lost its end: counted, so that the dump says so.
import { closeSync, openSync, readSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  ChunkOffset,
  HeaderOffset,
  RAW_CHUNK_HEADER_SIZE,
  RAW_CHUNK_MAGIC,
  RAW_FILE_SUFFIX,
  RAW_FORMAT_VERSION,
  RAW_HEADER_SIZE,
  RAW_MAGIC,
  RAW_RING_DEF_CHUNKS,
  RawKind,
  SAMPLE_FILE_SUFFIX,
  SAMPLE_HEADER_SIZE,
  SAMPLE_MAGIC,
  SampleOffset,
} from './raw-format.js';

/** CLOCK_MONOTONIC ns, inclusive. */
export interface TimeWindow {
  fromNs: number;
  toNs: number;
}

export interface RingCopy {
  /** Ring files that had chunks in the window. */
  files: number;
  chunks: number;
  /** Chunks reused while being copied, left out. */
  torn: number;
  /** Chunks copied while still being written and reused before the next copy: their end is missing. */
  lost: number;
  samples: number;
  /** The earliest chunk start copied (ns); Infinity when nothing was. */
  earliestNs: number;
}

interface ChunkInfo {
  index: number;
  slot: number;
  seq: number;
  owned: boolean;
  startNs: number;
}

const u64 = (b: Buffer, off: number) => b.readUInt32LE(off + 4) * 2 ** 32 + b.readUInt32LE(off);
// A chunk opens with a calibration record: header word, ticks, CLOCK_MONOTONIC ns.
const FIRST_RECORD = RAW_CHUNK_HEADER_SIZE;
const PROBE = FIRST_RECORD + 24;

/** The ring files in `ringDir`: `{ file, header }` for each readable one of this raw format. */
export function ringFiles(ringDir: string): { file: string; header: Buffer }[] {
  const out: { file: string; header: Buffer }[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(ringDir).filter((n) => n.endsWith(RAW_FILE_SUFFIX));
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const file = join(ringDir, name);
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      continue;
    }
    try {
      const header = Buffer.alloc(RAW_HEADER_SIZE);
      if (readSync(fd, header, 0, RAW_HEADER_SIZE, 0) !== RAW_HEADER_SIZE) continue;
      if (header.toString('latin1', 0, 8) !== RAW_MAGIC || header.readUInt32LE(HeaderOffset.version) !== RAW_FORMAT_VERSION) continue;
      if (header.readUInt32LE(HeaderOffset.ringChunks) === 0) continue;
      out.push({ file, header });
    } finally {
      closeSync(fd);
    }
  }
  return out;
}

/** Where one ring file's copy stands: its output file and, per ring chunk copied, its generation and place. */
interface FileCopy {
  out: number;
  size: number;
  /** Ring index → the generation copied, where in the copy, and whether its thread still wrote it. */
  copied: Map<number, { gen: number; at: number; owned: boolean }>;
}

/**
 * Copies one ring file's chunks that overlap `w` to its copy (header, definition chunks, then those).
 * Called again, it adds the chunks taken since and refreshes the ones still being written, so a dump
 * can copy the past at its trigger (before the ring reuses it) and the rest at the window's end.
 */
function copyRingFile(file: string, header: Buffer, outFile: string, w: TimeWindow, copy: RingCopy, state: Map<string, FileCopy>): void {
  const chunkSize = header.readUInt32LE(HeaderOffset.chunkSize);
  const ring = header.readUInt32LE(HeaderOffset.ringChunks);
  const endNs = u64(header, HeaderOffset.endNs);
  if (u64(header, HeaderOffset.startNs) > w.toNs || (endNs !== 0 && endNs < w.fromNs)) return;
  const fd = openSync(file, 'r');
  try {
    const probe = Buffer.alloc(PROBE);
    const chunks: ChunkInfo[] = [];
    for (let i = RAW_RING_DEF_CHUNKS; i < RAW_RING_DEF_CHUNKS + ring; i++) {
      if (readSync(fd, probe, 0, PROBE, RAW_HEADER_SIZE + i * chunkSize) !== PROBE) continue;
      if (probe.readUInt32LE(ChunkOffset.magic) !== RAW_CHUNK_MAGIC || probe.readUInt32LE(ChunkOffset.gen) & 1) continue;
      if ((probe.readUInt32LE(FIRST_RECORD) & 0xff) !== RawKind.calibration) continue;
      chunks.push({ index: i, slot: probe.readUInt32LE(ChunkOffset.slot), seq: probe.readUInt32LE(ChunkOffset.seq), owned: probe.readUInt32LE(ChunkOffset.owned) !== 0, startNs: u64(probe, FIRST_RECORD + 16) });
    }
    // A chunk covers its thread's time from its start to the start of the thread's next chunk.
    const bySlot = new Map<number, ChunkInfo[]>();
    for (const c of chunks) {
      let l = bySlot.get(c.slot);
      if (!l) bySlot.set(c.slot, (l = []));
      l.push(c);
    }
    const wanted: ChunkInfo[] = [];
    for (const list of bySlot.values()) {
      list.sort((a, b) => a.seq - b.seq);
      list.forEach((c, k) => {
        const next = list[k + 1];
        const end = next && next.seq === c.seq + 1 ? next.startNs : Infinity;
        if (c.startNs <= w.toNs && end >= w.fromNs) wanted.push(c);
      });
    }
    let f = state.get(file);
    if (wanted.length === 0 && !f) return;
    const buf = Buffer.alloc(chunkSize);
    if (!f) {
      const out = openSync(outFile, 'w');
      f = { out, size: 0, copied: new Map() };
      state.set(file, f);
      copy.files++;
    }
    // The header again each time: the exit time may have come since.
    const head = Buffer.from(header);
    head.writeUInt32LE(0, HeaderOffset.ringChunks); // an ordinary raw file now
    writeSync(f.out, head, 0, head.length, 0);
    for (let i = 0; i < RAW_RING_DEF_CHUNKS; i++) {
      const n = readSync(fd, buf, 0, chunkSize, RAW_HEADER_SIZE + i * chunkSize);
      if (n === chunkSize && buf.readUInt32LE(ChunkOffset.magic) === RAW_CHUNK_MAGIC) writeSync(f.out, buf, 0, chunkSize, RAW_HEADER_SIZE + i * chunkSize);
    }
    f.size = Math.max(f.size, RAW_HEADER_SIZE + RAW_RING_DEF_CHUNKS * chunkSize);
    const gen = Buffer.alloc(4);
    const readGen = (index: number) => (readSync(fd, gen, 0, 4, RAW_HEADER_SIZE + index * chunkSize + ChunkOffset.gen) === 4 ? gen.readUInt32LE(0) : 1);
    // A chunk its thread still wrote at the last copy, now reused: what it got since is gone.
    for (const [index, prev] of f.copied) {
      if (prev.owned && readGen(index) !== prev.gen) {
        copy.lost++;
        prev.owned = false;
      }
    }
    for (const c of wanted) {
      const before = readGen(c.index);
      const n = readSync(fd, buf, 0, chunkSize, RAW_HEADER_SIZE + c.index * chunkSize);
      const after = readGen(c.index);
      if (n !== chunkSize || before & 1 || before !== after || buf.readUInt32LE(ChunkOffset.gen) !== before || buf.readUInt32LE(ChunkOffset.seq) !== c.seq) {
        copy.torn++;
        continue;
      }
      // The same chunk copied before (same generation) is rewritten in place, fuller; a reused one is new.
      const prev = f.copied.get(c.index);
      const at = prev && prev.gen === before ? prev.at : f.size;
      if (at === f.size) {
        f.size += chunkSize;
        copy.chunks++;
      }
      f.copied.set(c.index, { gen: before, at, owned: buf.readUInt32LE(ChunkOffset.owned) !== 0 });
      writeSync(f.out, buf, 0, chunkSize, at);
      copy.earliestNs = Math.min(copy.earliestNs, c.startNs);
    }
  } finally {
    closeSync(fd);
  }
}

/** The watchdog's samples (every samples file in `ringDir`) taken inside `w`, as one samples file. */
function copySamples(ringDir: string, outFile: string, w: TimeWindow): number {
  let names: string[] = [];
  try {
    names = readdirSync(ringDir).filter((n) => n.endsWith(SAMPLE_FILE_SUFFIX));
  } catch {
    return 0;
  }
  let head: Buffer | null = null;
  const kept: Buffer[] = [];
  for (const name of names) {
    let b: Buffer;
    try {
      b = readFileSync(join(ringDir, name));
    } catch {
      continue; // rotated away meanwhile
    }
    if (b.length < SAMPLE_HEADER_SIZE || b.toString('latin1', 0, 8) !== SAMPLE_MAGIC) continue;
    const size = b.readUInt32LE(12);
    head ??= b.subarray(0, SAMPLE_HEADER_SIZE);
    for (let off = SAMPLE_HEADER_SIZE; off + size <= b.length; off += size) {
      const ns = u64(b, off + SampleOffset.ns);
      if (ns >= w.fromNs && ns <= w.toNs) kept.push(b.subarray(off, off + size));
    }
  }
  if (!head || kept.length === 0) return 0;
  const out = openSync(outFile, 'w');
  try {
    writeSync(out, Buffer.concat([head, ...kept]));
  } finally {
    closeSync(out);
  }
  return kept.length;
}

/**
 * A dump in the making: `copy()` copies what every ring in `ringDir` holds of window `w` into
 * `outRawDir` (an existing folder); call it at the trigger and again at the window's end, then
 * `finish()` (which adds the watchdog's samples of the window).
 */
export class RingSnapshot {
  readonly result: RingCopy = { files: 0, chunks: 0, torn: 0, lost: 0, samples: 0, earliestNs: Infinity };
  private readonly state = new Map<string, FileCopy>();

  constructor(
    private readonly ringDir: string,
    private readonly outRawDir: string,
    private readonly w: TimeWindow,
  ) {}

  copy(): void {
    for (const { file, header } of ringFiles(this.ringDir)) {
      copyRingFile(file, header, join(this.outRawDir, file.slice(file.lastIndexOf('/') + 1)), this.w, this.result, this.state);
    }
  }

  finish(): RingCopy {
    this.close();
    this.result.samples = copySamples(this.ringDir, join(this.outRawDir, `watchdog-dump${SAMPLE_FILE_SUFFIX}`), this.w);
    return this.result;
  }

  close(): void {
    for (const f of this.state.values()) closeSync(f.out);
    this.state.clear();
  }
}

/** Copies what every ring in `ringDir` holds of window `w` into `outRawDir`, in one go. */
export function copyRingWindow(ringDir: string, outRawDir: string, w: TimeWindow): RingCopy {
  const snap = new RingSnapshot(ringDir, outRawDir, w);
  snap.copy();
  return snap.finish();
}
