// The collector must not change what it measures. Counted, never timed: the system calls a patched
// CPython makes per GIL release+retake with the collector (and its watchdog) attached, as the slope
// between two run lengths (start-up, thread creation and the watchdog's attach cancel out), against the
// same program with no tool; and, the same way, the instructions (callgrind) the collector adds.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { watchdogFor } from '../../lib/trace/collector-path.js';
import { patchedPythonOrSkip } from '../helpers/pythons.js';
import { ensureCollector, scratchDir } from './helpers.js';

const patched = await patchedPythonOrSkip('3.11.2');
const python = 'python' in patched ? patched.python : '';
// One GIL release and retake per os.read (it releases the GIL around the read system call).
const HANDOFF = 'import os, sys\nfd = os.open("/dev/zero", os.O_RDONLY)\nfor _ in range(int(sys.argv[1])): os.read(fd, 1)\n';

/** Instructions the program executes (callgrind), with string hashing fixed so that runs repeat exactly. */
function instructions(cycles: number, env: NodeJS.ProcessEnv): number {
  const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', python, '-c', HANDOFF, String(cycles)], {
    env: { ...process.env, PYTHONHASHSEED: '0', ...env },
    encoding: 'utf8',
    timeout: 300_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const collected = /Collected : (\d+)/.exec(r.stderr);
  expect(collected, r.stderr).not.toBeNull();
  return Number(collected![1]);
}

/** Total system calls of the program (all its threads), from `strace -f -c`. */
function syscalls(cycles: number, env: NodeJS.ProcessEnv): number {
  const dir = scratchDir('strace');
  const out = join(dir, 'counts');
  const r = spawnSync('strace', ['-f', '-c', '-o', out, python, '-c', HANDOFF, String(cycles)], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  const total = /^\s*100\.00\s+\S+\s+\S+\s+(\d+)\s+(?:\d+\s+)?total$/m.exec(readFileSync(out, 'utf8'));
  expect(total, readFileSync(out, 'utf8')).not.toBeNull();
  return Number(total![1]);
}

describe.skipIf('skip' in patched)('collector fidelity: what tracing adds to the program', () => {
  let collector = '';
  beforeAll(() => {
    collector = ensureCollector();
  }, 300_000);

  /** Extra system calls per release+retake cycle with the collector attached (`env`) and its watchdog. */
  function slopeWith(env: NodeJS.ProcessEnv): number {
    const [small, large] = [20_000, 80_000];
    const extra = (n: number) => syscalls(n, env) - syscalls(n, {});
    return (extra(large) - extra(small)) / (large - small);
  }

  it('ring mode: no system call per GIL transition either, though the ring is reused many times over', () => {
    const rawDir = join(scratchDir('fidelity-ring'), 'raw');
    mkdirSync(rawDir, { recursive: true });
    const watchdog = spawn(watchdogFor(collector)!, [rawDir], { stdio: 'ignore' });
    try {
      // 8 chunks of 16 KiB: 80,000 cycles wrap the ring ~40 times. A wrap reuses mapped pages: no
      // mmap, no fallocate, so the slope is 0 but for noise (the growing file's is 1 per 130,000).
      const slope = slopeWith({ NVTX_INJECTION64_PATH: collector, GIL_NVTX_TRACE_DIR: rawDir, GIL_NVTX_RING_CHUNKS: '8', GIL_NVTX_CHUNK_KB: '16' });
      expect(slope).toBeLessThan(1e-4);
    } finally {
      watchdog.kill('SIGTERM');
    }
  });

  it('no system call per GIL transition: the slope of extra system calls over 60,000 more release+retake cycles is ~0', async () => {
    const rawDir = join(scratchDir('fidelity'), 'raw');
    mkdirSync(rawDir, { recursive: true });
    const watchdog = spawn(watchdogFor(collector)!, [rawDir], { stdio: 'ignore' });
    try {
      const slope = slopeWith({ NVTX_INJECTION64_PATH: collector, GIL_NVTX_TRACE_DIR: rawDir });
      // The old collector read the thread CPU clock four times per cycle (slope 4). What remains is
      // one mmap and munmap per 4 MiB of trace (about 130,000 cycles): well under 1 per 10,000.
      expect(slope).toBeLessThan(1e-4);
    } finally {
      watchdog.kill('SIGTERM');
    }
  });

  it('instructions: the collector adds at most 700 per release+retake cycle (4 NVTX events and the metrics; 661 on 2026-12-03: 592 before the metrics, 715 before the fast paths)', () => {
    const rawDir = join(scratchDir('fidelity-instructions'), 'raw');
    mkdirSync(rawDir, { recursive: true });
    const [small, large] = [4_000, 12_000];
    const perCycle = (env: NodeJS.ProcessEnv) => (instructions(large, env) - instructions(small, env)) / (large - small);
    const none = perCycle({});
    const added = perCycle({ NVTX_INJECTION64_PATH: collector, GIL_NVTX_TRACE_DIR: rawDir }) - none;
    // Without a tool a cycle is ~1,500 instructions of CPython (os.read, the GIL's mutex and condition).
    expect(none).toBeGreaterThan(500);
    expect(added).toBeGreaterThan(100); // the events are recorded at all
    expect(added).toBeLessThan(700);
  }, 300_000);
});
