import { resolve } from 'node:path';
import { nsysProfile, type NsysProfileResult } from './run.js';
import { resolveRealExecutable } from './executable.js';

export interface ProfileOptions {
  /** Output path without extension (`.nsys-rep` and `.sqlite` are added). */
  output: string;
  /** Extra `nsys profile` arguments, placed before the command. */
  nsysArgs?: string[];
  /** Seconds before nsys is stopped and its agents killed. */
  timeoutSec?: number;
  /** Trace OS runtime calls (fdatasync, futex, …) for the report's "what the process did meanwhile". */
  osrt?: boolean;
  /** `--cpuctxsw=process-tree`: context switches; flaky in nsys 2022.4, so opt-in. */
  contextSwitches?: boolean;
  /**
   * Add `python-gil` to the trace: nsys 2024.2+ records the GIL of a stock CPython itself (the report's
   * `nsys` GIL source). The caller checks that the nsys takes it (`probeNsys`).
   */
  pythonGil?: boolean;
  /** `--trace-fork-before-exec=true`, for programs that fork without exec (`os.fork`, multiprocessing). */
  forkBeforeExec?: boolean;
  env?: NodeJS.ProcessEnv;
  onOutput?: (chunk: string) => void;
}

/**
 * `nsys profile` with the defaults this job needs: NVTX (+ OS runtime) tracing, CPU sampling off,
 * context switches only on request, a timeout, agents cleaned up, SQLite exported.
 */
export async function profile(command: string[], opts: ProfileOptions): Promise<NsysProfileResult> {
  const [exe, ...args] = command;
  if (exe === undefined) throw new Error('profile: empty command');
  const real = resolveRealExecutable(exe, opts.env);
  return nsysProfile([real, ...args], {
    output: resolve(opts.output),
    trace: [...(opts.pythonGil ? ['python-gil'] : []), 'nvtx', ...(opts.osrt === false ? [] : ['osrt'])],
    sample: 'none',
    cpuctxsw: opts.contextSwitches ? 'process-tree' : 'none',
    forkBeforeExec: opts.forkBeforeExec ?? false,
    extraArgs: opts.nsysArgs ?? [],
    timeoutSec: opts.timeoutSec ?? 600,
    env: opts.env ?? process.env,
    onOutput: opts.onOutput,
  });
}
