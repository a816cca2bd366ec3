// Copying a window out of a ring (lib/trace/ring-dump.ts) on a ring file laid out by hand: which chunks
// a window takes, that a chunk caught mid-reuse (odd generation) is left out, and that a chunk still
// being written is refreshed in place by a later copy instead of added twice, and that one reused between
// two copies while it was still being written is counted as lost (its end is missing).
import { mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChunkOffset, HeaderOffset, RAW_CHUNK_HEADER_SIZE, RAW_CHUNK_MAGIC, RAW_FORMAT_VERSION, RAW_HEADER_SIZE, RAW_MAGIC, RAW_RING_DEF_CHUNKS, RawKind, TickSource } from '../../lib/trace/raw-format.js';
import { RawTraceFile } from '../../lib/trace/raw-reader.js';
import { RingSnapshot } from '../../lib/trace/ring-dump.js';
import { scratchDir } from './helpers.js';

const CHUNK = 16384;
const RING = 8;

/**
 * A chunk of thread slot 1: header, a calibration record at `startNs` (ns timestamps), then
 * `extraWords` more; `owned` while its thread still writes it.
 */
function chunk(seq: number, startNs: number, gen: number, extraWords = 0, owned = false): Buffer {
  const c = Buffer.alloc(CHUNK);
  c.writeUInt32LE(RAW_CHUNK_MAGIC, ChunkOffset.magic);
  c.writeUInt32LE(1, ChunkOffset.slot);
  c.writeUInt32LE(4242, ChunkOffset.tid);
  c.writeUInt32LE(seq, ChunkOffset.seq);
  c.writeUInt32LE(gen, ChunkOffset.gen);
  c.writeUInt32LE(owned ? 1 : 0, ChunkOffset.owned);
  const p = RAW_CHUNK_HEADER_SIZE;
  c.writeUInt32LE(RawKind.calibration | (3 << 16), p); // kind | words << 16
  c.writeBigUInt64LE(BigInt(startNs), p + 8);
  c.writeBigUInt64LE(BigInt(startNs), p + 16);
  // Further calibration records stand for what the thread wrote since.
  for (let i = 0; i < extraWords; i++) {
    const q = p + 24 * (i + 1);
    c.writeUInt32LE(RawKind.calibration | (3 << 16), q);
    c.writeBigUInt64LE(BigInt(startNs + i + 1), q + 8);
    c.writeBigUInt64LE(BigInt(startNs + i + 1), q + 16);
  }
  return c;
}

function ringFile(dir: string, chunks: (Buffer | null)[]): string {
  const h = Buffer.alloc(RAW_HEADER_SIZE);
  h.write(RAW_MAGIC, 0, 'latin1');
  h.writeUInt32LE(RAW_FORMAT_VERSION, HeaderOffset.version);
  h.writeUInt32LE(CHUNK, HeaderOffset.chunkSize);
  h.writeUInt32LE(4242, HeaderOffset.pid);
  h.writeBigUInt64LE(1n, HeaderOffset.startNs);
  h.writeUInt32LE(TickSource.ns, HeaderOffset.tickSource);
  h.writeUInt32LE(RING, HeaderOffset.ringChunks);
  const file = join(dir, '4242-1.gnvtx');
  const fd = openSync(file, 'w');
  writeSync(fd, h);
  for (let i = 0; i < RAW_RING_DEF_CHUNKS + RING; i++) writeSync(fd, chunks[i - RAW_RING_DEF_CHUNKS] ?? Buffer.alloc(CHUNK));
  closeSync(fd);
  return file;
}

/** A scratch folder with `ring/` (the ring file goes there) and `raw/` (the copy). */
function ringDirs(name: string): { ring: string; out: string } {
  const dir = scratchDir(name);
  const ring = join(dir, 'ring');
  const out = join(dir, 'raw');
  mkdirSync(ring);
  mkdirSync(out);
  return { ring, out };
}

const copiedSeqs = (file: string) => {
  const f = new RawTraceFile(file);
  try {
    return f.threads.find((t) => t.slot === 1)?.chunks.map((c) => c.seq) ?? [];
  } finally {
    f.close();
  }
};

describe('copying a window out of a ring', () => {
  it('takes the chunks that overlap the window, leaves out one being reused, refreshes one being written', () => {
    const { ring, out } = ringDirs('ring-dump');
    // Ring order is not time order: seq 3 sits before seq 0. Seq 4 (odd generation) is being reused.
    ringFile(ring, [chunk(3, 400, 2), chunk(0, 100, 2), chunk(1, 200, 4), chunk(2, 300, 2), chunk(4, 420, 7)]);
    const snap = new RingSnapshot(ring, out, { fromNs: 250, toNs: 450 });
    snap.copy();
    // seq 1 runs 200-300, seq 2 300-400, seq 3 from 400: they overlap; seq 0 ended at 200; seq 4 (in the
    // window) is left out.
    expect(snap.result.chunks).toBe(3);
    // The thread went on writing seq 3 (still its chunk, same generation): copied again, in place.
    ringFile(ring, [chunk(3, 400, 2, 5), chunk(0, 100, 2), chunk(1, 200, 4), chunk(2, 300, 2), chunk(4, 420, 7)]);
    snap.copy();
    const r = snap.finish();
    expect(r.chunks).toBe(3);
    expect(copiedSeqs(join(out, '4242-1.gnvtx'))).toEqual([1, 2, 3]);
    const f = new RawTraceFile(join(out, '4242-1.gnvtx'));
    const t = f.threads.find((x) => x.slot === 1)!;
    let calibrations = 0;
    f.decode(t, (rec) => {
      if (rec.kind === RawKind.calibration) calibrations++;
    });
    f.close();
    expect(calibrations).toBe(1 + 1 + 6); // seq 3's copy is the fuller one
  });

  it('counts a chunk reused between two copies while it was being written as lost, not one that was finished', () => {
    const { ring, out } = ringDirs('ring-dump-lost');
    // Seq 1 is being written at the first copy.
    ringFile(ring, [chunk(0, 100, 2), chunk(1, 200, 2, 2, true)]);
    const snap = new RingSnapshot(ring, out, { fromNs: 150, toNs: 10_000 });
    snap.copy();
    expect(snap.result).toMatchObject({ chunks: 2, lost: 0 });
    // Its thread finished it (fuller, no longer owned) and took seq 2: nothing lost.
    ringFile(ring, [chunk(0, 100, 2), chunk(1, 200, 2, 9), chunk(2, 300, 2, 1, true)]);
    snap.copy();
    expect(snap.result).toMatchObject({ chunks: 3, lost: 0 });
    // Before the next copy the ring wrapped: seq 2's slot now holds seq 3 (a new generation), so
    // whatever seq 2 got after the last copy is gone. Counted once, however often the copy runs.
    ringFile(ring, [chunk(0, 100, 2), chunk(1, 200, 2, 9), chunk(3, 400, 4, 1, true)]);
    snap.copy();
    snap.copy();
    const r = snap.finish();
    expect(r).toMatchObject({ chunks: 4, lost: 1, torn: 0 });
    expect(copiedSeqs(join(out, '4242-1.gnvtx'))).toEqual([0, 1, 2, 3]);
  });
});
