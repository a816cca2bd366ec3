import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { nsysProfile, type NsysProfileResult } from '../../lib/nsys/run.js';
import { analyzeTrace } from '../../lib/report/analyze.js';
import { loadTrace } from '../../lib/report/load.js';
import { lineContaining, nsysGate } from '../helpers/tools.js';
import { checkGilInvariants, count, isOpen, readGilTrace, type GilRange, type GilTrace } from './gil-invariants.js';

export const WORKLOAD = fileURLToPath(new URL('../../examples/workloads/gil_mix.py', import.meta.url));
export const SUBINTERPRETERS = fileURLToPath(new URL('../../examples/workloads/gil_subinterpreters.py', import.meta.url));

export interface TraceCase {
  version: string;
  disableGil?: boolean;
  /** Extra environment for the traced run (PYTHON_GIL for free-threaded builds). */
  env?: Record<string, string>;
  /** PYTHON_GIL=0 on a free-threaded build: the GIL never exists, so no GIL events at all. */
  expectNoGil?: boolean;
}

export type GetPython = (version: string, opts: { disableGil?: boolean }) => Promise<string>;

const minorOf = (v: string) => Number(v.split('.')[1]);


function label(c: TraceCase): string {
  return `${c.version}${c.disableGil ? 't' : ''}${c.env ? ` ${Object.entries(c.env).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`;
}

/** Which thread of a process is its main thread: the workload forks from it, so tid == pid in both. */
const isMainThread = (r: GilRange) => r.tid === r.pid;

async function traceWorkload(python: string, c: TraceCase, env: Record<string, string>, tag: string): Promise<{ run: NsysProfileResult; trace: GilTrace }> {
  const dir = mkdtempSync(join(tmpdir(), `gil-trace-${tag}-`));
  const run = await nsysProfile([python, '-u', WORKLOAD, '--seconds', '0.8'], {
    output: join(dir, 'trace'),
    forkBeforeExec: true,
    timeoutSec: 240,
    env: { ...process.env, ...c.env, ...env },
  });
  return { run, trace: readGilTrace(run.sqlite!) };
}

/**
 * Builds (once) the patched interpreter, traces the workload under nsys, and checks what the patch
 * promises. Shared by the CI test (interpreters from ensurePatchedPython) and local development.
 */
export function defineTraceCase(c: TraceCase, getPython: GetPython): void {
  const minor = minorOf(c.version);
  describe.skipIf(nsysGate.skip)(`GIL ranges of CPython ${label(c)} under nsys`, () => {
    let python = '';
    let run: NsysProfileResult;
    let trace: GilTrace;
    let parentPid = 0;

    beforeAll(async () => {
      python = await getPython(c.version, { disableGil: c.disableGil ?? false });
      ({ run, trace } = await traceWorkload(python, c, {}, 'on'));
      parentPid = Number(/^pid (\d+)/m.exec(run.output)?.[1] ?? 0);
    }, 3_600_000);

    it('is a patched build and the workload runs to the end under nsys', () => {
      const probe = spawnSync(python, ['-c', "import ctypes; a = ctypes.c_char.in_dll(ctypes.pythonapi, '_Py_gil_nvtx_version'); print(ctypes.string_at(ctypes.addressof(a)).decode())"], { encoding: 'utf8' });
      expect(probe.stdout.trim()).toBe('gil-nvtx 1');
      expect(run.timedOut).toBe(false);
      expect(run.output).toContain('main done');
      // nsys 2022.4 (--trace-fork-before-exec) segfaults in its own exit-time destructors in a fork
      // child of a process that never initialised NVTX: Debian's unpatched python3 does the same.
      // Where the GIL hooks are active NVTX is initialised, and the child must exit cleanly.
      if (!c.expectNoGil) expect(run.output).toContain('fork child exited with status 0');
      else expect(run.output).toMatch(/fork child exited with status \d+/);
      expect(parentPid).toBeGreaterThan(0);
    });

    if (c.expectNoGil) {
      it('emits no GIL event while the GIL is disabled', () => {
        expect(trace.ranges).toEqual([]);
        expect(trace.marks).toEqual([]);
      });
      return;
    }

    it('keeps every invariant: no overlapping holds per GIL, each hold right after a wait, nothing open', () => {
      // Up to 3.11 the main thread never releases the GIL at exit (notes §8): its last hold, in the
      // parent and in the fork child, may stay open. So may the wait of a daemon thread that was still
      // queued for the GIL when the process ended (it had no chance to see the must-exit check).
      const allowOpen = (r: GilRange) =>
        (minor <= 11 && r.name === 'Holding GIL' && isMainThread(r)) || (r.name === 'Waiting for GIL' && !isMainThread(r));
      const violations = checkGilInvariants(trace, allowOpen, { freeThreaded: c.disableGil });
      expect(violations.slice(0, 10).map((v) => `${v.rule}: ${v.detail}`)).toEqual([]);
      const openHolds = trace.ranges.filter((r) => r.name === 'Holding GIL' && isOpen(trace, r));
      if (minor <= 11) expect(openHolds.length).toBeLessThanOrEqual(2);
      else expect(openHolds).toEqual([]);
    });

    it('records the parent and the fork child, each with its own waits and holds', () => {
      const pids = [...new Set(trace.ranges.map((r) => r.pid))];
      expect(pids).toContain(parentPid);
      const child = pids.find((p) => p !== parentPid);
      expect(child, `pids seen: ${pids.join(', ')}`).toBeDefined();
      expect(count(trace, parentPid, 'Holding GIL')).toBeGreaterThan(100);
      expect(count(trace, child!, 'Holding GIL')).toBeGreaterThan(3);
      expect(count(trace, child!, 'Waiting for GIL')).toBeGreaterThanOrEqual(count(trace, child!, 'Holding GIL'));
    });

    it('raises drop-request marks under contention, with the interpreter id as payload', () => {
      const drops = trace.marks.filter((m) => m.name === 'GIL drop request');
      expect(drops.filter((m) => m.pid === parentPid).length).toBeGreaterThan(10);
      expect(new Set(trace.ranges.map((r) => r.interpId))).toEqual(new Set([0]));
      expect(new Set(drops.map((m) => m.interpId))).toEqual(new Set([0]));
    });

    it('shows the thread that sleeps in C while holding the GIL as one long hold', () => {
      // usleep(200000) through ctypes.PyDLL keeps the GIL: a hold of at least that long must exist.
      const long = trace.ranges.filter((r) => r.name === 'Holding GIL' && r.pid === parentPid && !isOpen(trace, r) && r.end! - r.start >= 190e6);
      expect(long.length).toBeGreaterThanOrEqual(1);
    });

    it('names the code of the long holds and the threads by their Python names (report)', async () => {
      const t = await loadTrace(run.sqlite!);
      try {
        const blamed = analyzeTrace(t, { top: 8 }).blame.filter((b) => b.pid === parentPid);
        // The usleep through PyDLL ends with the C call: the holder gives the GIL back at the first
        // bytecode boundary after it, on the line of the call.
        const offCpu = blamed.find((b) => b.thread.name === 'main-hold-off-cpu');
        expect(offCpu, blamed.map((b) => `${b.thread.name} ${b.durationNs}`).join(', ')).toBeDefined();
        expect(offCpu!.durationNs).toBeGreaterThan(190e6);
        expect(offCpu!.where.released).toEqual({ function: 'hold_off_cpu', file: WORKLOAD, line: lineContaining(readFileSync(WORKLOAD, 'utf8'), 'ctypes.PyDLL(None).usleep(usec)') });
        // Its waiters are named as threading.Thread named them, and say where they began to wait.
        const cpuWaiter = offCpu!.waiters.find((w) => /^main-cpu\d$/.test(w.thread.name));
        expect(cpuWaiter, offCpu!.waiters.map((w) => w.thread.name).join(', ')).toBeDefined();
        expect(cpuWaiter!.where?.function).toBe('cpu_worker');
      } finally {
        t.close();
      }
    });

    // 3.12+: an interpreter created with its own GIL gets ranges in its own category (= its id). Older
    // versions have one GIL per process and the free-threaded build none to own, so it is not defined there.
    if (minor >= 12 && !c.disableGil) it('gives each own-GIL subinterpreter its own GIL identity, ordered per GIL', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'gil-trace-sub-'));
      const sub = await nsysProfile([python, '-u', SUBINTERPRETERS], { output: join(dir, 'trace'), timeoutSec: 240, env: { ...process.env, ...c.env } });
      expect(sub.output).toContain('sub done');
      const t = readGilTrace(sub.sqlite!);
      expect(checkGilInvariants(t).slice(0, 10)).toEqual([]);
      const holds = t.ranges.filter((r) => r.name === 'Holding GIL');
      const gils = [...new Set(holds.map((h) => h.gilId))].sort();
      expect(gils.length).toBeGreaterThanOrEqual(3); // the main GIL (0) and two interpreters' own
      expect(holds.every((h) => h.gilId === 0 || h.interpId === h.gilId)).toBe(true);
      // Different GILs really are held at the same time (which one GIL would forbid).
      const own = holds.filter((h) => h.gilId !== 0);
      const parallel = own.some((a) => own.some((b) => a.gilId !== b.gilId && a.start < b.end! && b.start < a.end!));
      expect(parallel).toBe(true);
    }, 600_000);

    it('emits nothing with PYTHON_GIL_NVTX=0', async () => {
      const off = await traceWorkload(python, c, { PYTHON_GIL_NVTX: '0' }, 'off');
      expect(off.run.output).toContain('main done'); // (the fork child may hit the nsys crash above)
      expect(off.trace.ranges).toEqual([]);
      expect(off.trace.marks).toEqual([]);
    }, 600_000);
  });
}
