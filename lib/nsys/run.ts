import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GilNvtxError } from '../errors.js';
import { findExecutable, isExecutableFile } from '../executables.js';

// lib/nsys and dist/nsys both sit two levels under the package root.
export const NSYS_LOCKED = fileURLToPath(new URL('../../scripts/nsys-locked.sh', import.meta.url));

/**
 * The nsys gil-nvtx drives: GIL_NVTX_NSYS when set (the `--nsys` flags set it too), else the first
 * `nsys` on PATH, else null. The default stays PATH's, so a machine with Debian's 2022.4 on PATH and
 * 2024.2 under /opt keeps running 2022.4 until asked for the other. A GIL_NVTX_NSYS that is not an
 * executable file is an error, not a silent fall-back to another nsys.
 */
export function findNsys(env: NodeJS.ProcessEnv = process.env): string | null {
  const chosen = env.GIL_NVTX_NSYS;
  if (chosen) {
    if (!isExecutableFile(chosen)) {
      throw new GilNvtxError(`GIL_NVTX_NSYS=${chosen} is not an executable file.`, {
        hint: 'Point it at an nsys binary (`gil-nvtx doctor` lists those on this machine), or unset it to use the nsys on PATH.',
        exitCode: 2,
      });
    }
    return chosen;
  }
  return findExecutable('nsys', env);
}

/**
 * The environment with `--nsys PATH` applied: every nsys run below reads GIL_NVTX_NSYS, so a flag and
 * the variable are one mechanism. Throws the one-line error for a path that is no executable file.
 */
export function withNsys(path: string | undefined, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (path === undefined) return env;
  if (!isExecutableFile(path)) {
    throw new GilNvtxError(`--nsys ${path}: not an executable file.`, {
      hint: 'Pass the nsys binary itself, e.g. /opt/nsight-systems-2024.2/target-linux-x64/nsys (`gil-nvtx doctor` lists those on this machine).',
      exitCode: 2,
    });
  }
  return { ...env, GIL_NVTX_NSYS: resolve(path) };
}

export interface NsysProfileOptions {
  /** Output path without extension; `.nsys-rep` (and `.sqlite`) are added. */
  output: string;
  /** `-t` list; default `['nvtx']`. */
  trace?: string[];
  /** `--sample`; default `none` (CPU sampling has hung report generation in 2022.4). */
  sample?: string;
  /** `--cpuctxsw`; default `none`. */
  cpuctxsw?: string;
  /** Pass `--trace-fork-before-exec=true` for programs that fork without exec. */
  forkBeforeExec?: boolean;
  extraArgs?: string[];
  /** Seconds before `nsys profile` is killed; default 300. */
  timeoutSec?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Export SQLite beside the report; default true. */
  exportSqlite?: boolean;
  /** Called with each chunk nsys or the program prints (default: collected only). */
  onOutput?: (chunk: string) => void;
}

export interface NsysProfileResult {
  report: string;
  sqlite: string | null;
  exitCode: number | null;
  timedOut: boolean;
  /** nsys ended without a report the first time and was run once more. */
  retried: boolean;
  output: string;
}

interface Finished {
  code: number | null;
  output: string;
}

function runCollect(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; onOutput?: (s: string) => void }): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (b: Buffer) => {
      const s = b.toString();
      output += s;
      opts.onOutput?.(s);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

export function profileArgs(command: string[], opts: NsysProfileOptions): string[] {
  const args = [
    'profile',
    `--trace=${(opts.trace ?? ['nvtx']).join(',')}`,
    `--sample=${opts.sample ?? 'none'}`,
    `--cpuctxsw=${opts.cpuctxsw ?? 'none'}`,
    '--force-overwrite=true',
    '--wait=all',
    `--output=${opts.output}`,
  ];
  if (opts.forkBeforeExec) args.push('--trace-fork-before-exec=true');
  args.push(...(opts.extraArgs ?? []), ...command);
  return args;
}

/**
 * Runs `nsys profile` on `command` (a real executable, not a shell-script shim) under `timeout`,
 * one nsys at a time on this machine (scripts/nsys-locked.sh), then exports SQLite.
 */
export async function nsysProfile(command: string[], opts: NsysProfileOptions): Promise<NsysProfileResult> {
  const nsys = findNsys(opts.env);
  if (!nsys) {
    throw new GilNvtxError('nsys (Nsight Systems) was not found on PATH.', {
      hint: 'Install it (scripts/ci/install-nsys.sh does so from Debian non-free), or use `gil-nvtx trace`, which needs no nsys.',
    });
  }
  const timeoutSec = opts.timeoutSec ?? 300;
  const report = `${opts.output}.nsys-rep`;
  const once = () =>
    runCollect(NSYS_LOCKED, [String(timeoutSec), ...profileArgs(command, opts)], {
      env: { ...(opts.env ?? process.env), GIL_NVTX_NSYS: nsys },
      cwd: opts.cwd,
      onOutput: opts.onOutput,
    });
  // timeout(1) exits 124 when it had to stop the command, 137 when it needed -k.
  const stoppedByTimeout = (code: number | null) => code === 124 || code === 137;
  let run = await once();
  let timedOut = stoppedByTimeout(run.code);
  let retried = false;
  // The one failure run again (the only retry anywhere in the nsys path, tests included): nsys 2022.4
  // on a busy machine now and then ends without a report and without an error about the command line
  // (its agent fails to start, or its process waiter says `sem_open: No such file or directory`); a
  // second run almost always works. Not retried, because a second run
  // would fail the same way: a timeout (it would only double the wait) and a command line nsys refused
  // (its usage text, a program that does not exist). Said on stderr, so a retry never goes unnoticed.
  if (!existsSync(report) && !timedOut && !refusedCommandLine(run.output)) {
    process.stderr.write(`gil-nvtx: nsys profile ended (exit ${run.code}) without writing ${report}; running it once more\n`);
    retried = true;
    run = await once();
    timedOut = stoppedByTimeout(run.code);
  }
  if (!existsSync(report)) {
    throw new GilNvtxError(
      `nsys profile produced no report (${report})${timedOut ? ` after timing out at ${timeoutSec} s` : ''}${retried ? ', twice' : ''}.`,
      { hint: `nsys said:\n${run.output.trim().split('\n').slice(-15).join('\n')}` },
    );
  }
  let sqlite: string | null = null;
  if (opts.exportSqlite !== false) sqlite = await exportSqlite(nsys, report, `${opts.output}.sqlite`, opts.env);
  return { report, sqlite, exitCode: run.code, timedOut, retried, output: run.output };
}

/** nsys said its command line was wrong: its usage text, or no such program. */
function refusedCommandLine(output: string): boolean {
  return /^usage: nsys /m.test(output) || /^No such file or directory: /m.test(output);
}

async function exportSqlite(nsys: string, report: string, out: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const run = await runCollect(
    NSYS_LOCKED,
    ['300', 'export', '--type=sqlite', '--force-overwrite=true', `--output=${out}`, report],
    { env: { ...(env ?? process.env), GIL_NVTX_NSYS: nsys } },
  );
  if (run.code !== 0 || !existsSync(out)) {
    throw new GilNvtxError(`nsys export --type=sqlite failed for ${report} (exit ${run.code}, ${nsys}).`, {
      // An older nsys cannot read a newer one's report (2022.4 on a 2024.2 report: "Version number is invalid").
      hint:
        `${run.output.trim().split('\n').slice(-10).join('\n')}\n` +
        'A report recorded by a newer nsys needs that nsys to export it: pass --nsys PATH or set GIL_NVTX_NSYS (`gil-nvtx doctor` lists the installs).',
    });
  }
  return out;
}

/** `nsys export --type=sqlite`, under the same lock and timeout rules as profiling. */
export async function nsysExportSqlite(report: string, out: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const nsys = findNsys(env);
  if (!nsys) throw new GilNvtxError('nsys (Nsight Systems) was not found on PATH; it is needed to read a .nsys-rep file.', {
    hint: 'Export the report to SQLite where nsys is installed (`nsys export --type sqlite`), or install it.',
  });
  return exportSqlite(nsys, report, out, env);
}
