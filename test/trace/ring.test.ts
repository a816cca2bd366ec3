// Ring mode (GIL_NVTX_RING_CHUNKS): a process's trace file has a fixed size whatever the run's length,
// keeps the newest events, and still names them (the definition chunks are never reused).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeTrace } from '../../lib/trace/merge.js';
import { RAW_HEADER_SIZE, RAW_RING_DEF_CHUNKS } from '../../lib/trace/raw-format.js';
import { patchedPythonOrSkip } from '../helpers/pythons.js';
import { ensureCollector, readEvents, runWithCollector, scratchDir } from './helpers.js';

const patched = await patchedPythonOrSkip('3.11.2');
const python = 'python' in patched ? patched.python : '';

// Two threads handing the GIL back and forth (os.read releases it); prints CLOCK_MONOTONIC ns after
// the first half of the cycles and at the end, so the test can tell which half the ring kept.
const HANDOFF = `
import os, sys, threading, time
n = int(sys.argv[1])
fd = os.open("/dev/zero", os.O_RDONLY)
def work(k):
    for _ in range(k): os.read(fd, 1)
work(n // 2)
print(time.monotonic_ns(), flush=True)
t = threading.Thread(target=work, args=(n // 4,))
t.start(); work(n // 4); t.join()
print(time.monotonic_ns(), flush=True)
`;

const CHUNK = 16 * 1024;
const RING = 8;

describe.skipIf('skip' in patched)('collector ring mode', () => {
  beforeAll(() => {
    ensureCollector();
  }, 300_000);

  it('the file keeps its size, holds the newest GIL ranges with their names, and holds never overlap', () => {
    const dir = scratchDir('ring');
    const raw = join(dir, 'raw');
    // 200,000 cycles are ~800,000 events, ~50 times what 8 chunks of 16 KiB hold.
    const run = runWithCollector([python, '-u', '-c', HANDOFF, '200000'], raw, { GIL_NVTX_RING_CHUNKS: String(RING), GIL_NVTX_CHUNK_KB: '16' });
    expect(run.status, run.stderr).toBe(0);
    const [half, end] = run.stdout.trim().split('\n').map(Number);
    const files = readdirSync(raw).filter((n) => n.endsWith('.gnvtx'));
    expect(files).toHaveLength(1);
    // Allocated once, whole: header, definition chunks, ring.
    expect(statSync(join(raw, files[0]!)).size).toBe(RAW_HEADER_SIZE + (RAW_RING_DEF_CHUNKS + RING) * CHUNK);

    const db = join(dir, 'trace.sqlite');
    mergeTrace(raw, db);
    const events = readEvents(db);
    const holds = events.filter((e) => e.domain === 'CPython GIL' && e.name === 'Holding GIL' && e.eventType === 60);
    // The ring wrapped many times: what it keeps is a few chunks' worth (16 bytes a range), all of it
    // from the second half of the run.
    expect(holds.length).toBeGreaterThan(1000);
    expect(holds.length).toBeLessThan((RING * CHUNK) / 16);
    expect(Math.min(...holds.map((h) => h.start))).toBeGreaterThan(half!);
    const sorted = [...holds].sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.start).toBeGreaterThanOrEqual(sorted[i - 1]!.end!);
  });
});
