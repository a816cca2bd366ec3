import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTrace, type GenerateOptions, type GeneratedTrace } from '../../test-support/generate-trace.mjs';
import { analyzeTrace, type AnalyzeOptions } from '../../lib/report/analyze.js';
import { loadTrace } from '../../lib/report/load.js';
import type { Report } from '../../lib/report/types.js';
import { nsysProfile, type NsysProfileResult } from '../../lib/nsys/run.js';

export function scratch(prefix = 'gil-nvtx-report-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A small synthetic nsys-schema trace (the benchmark's generator at test size). */
export function fixture(name: string, options: GenerateOptions = {}): GeneratedTrace {
  return generateTrace(join(scratch(), `${name}.sqlite`), { holds: 200, threads: 4, longHoldNs: 200_000_000, ...options });
}

export async function reportOf(path: string, opts: AnalyzeOptions = {}): Promise<Report> {
  const trace = await loadTrace(path);
  try {
    return analyzeTrace(trace, opts);
  } finally {
    trace.close();
  }
}

const USLEEP_HOLD = join(import.meta.dirname, '../../test-support/programs/usleep_hold.py');

/**
 * test-support/programs/usleep_hold.py (a 200 ms usleep holding the GIL while two threads spin) traced
 * by the given nsys with `--trace=python-gil,nvtx,osrt`, and the tid of each of its threads by role.
 * nsys sometimes writes no report on a busy machine (seen with 2024.2 here too): retried, as elsewhere.
 */
export async function traceUsleepHold(python: string, nsys: string, prefix: string): Promise<{ run: NsysProfileResult; tids: Record<string, number> }> {
  const dir = scratch(prefix);
  const ids = join(dir, 'threads.txt');
  const run = await nsysProfile([python, '-u', USLEEP_HOLD, ids], {
    output: join(dir, 'usleep_hold'),
    trace: ['python-gil', 'nvtx', 'osrt'],
    timeoutSec: 240,
    cwd: dir,
    env: { ...process.env, GIL_NVTX_NSYS: nsys },
  });
  const tids: Record<string, number> = {};
  if (run.exitCode === 0) {
    for (const line of readFileSync(ids, 'utf8').trim().split('\n')) {
      const [role, tid] = line.split(' ');
      tids[role!] = Number(tid);
    }
  }
  return { run, tids };
}
