import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lockOwner, tryLock, type HeldLock } from '../lock.js';
import { makeDirs } from '../make-dirs.js';
import { GilNvtxError } from '../errors.js';
import { findOrBuildCollector, watchdogFor } from './collector-path.js';
import { mergeTrace, rawTraceFiles, type MergeSummary } from './merge.js';
import { RAW_FILE_SUFFIX, SAMPLE_FILE_SUFFIX } from './raw-format.js';

/** Layout of a trace folder: `raw/<pid>-<ns>.gnvtx` per process, merged into `trace.sqlite`. */
export const RAW_SUBDIR = 'raw';
export const TRACE_DB = 'trace.sqlite';
/** Names the pid of the run that owns the folder (lib/lock.ts); gone when the run ends. */
export const LOCK_FILE = '.gil-nvtx.lock';

export interface TraceOptions {
  /** Trace folder; created if missing. Default `gil-nvtx-trace`. */
  outDir?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Collector library; default: the built one (findCollector). */
  collector?: string;
  /** `inherit` (default) passes the program's stdio through; `pipe` collects it into the result. */
  stdio?: 'inherit' | 'pipe';
  /** Progress lines (e.g. when the collector has to be compiled first). */
  onProgress?: (line: string) => void;
  /** Keep `<outDir>/raw` after a successful merge (default: removed; the merged trace holds everything). */
  keepRaw?: boolean;
  /** Holds longer than this are sampled by the watchdog (default GIL_NVTX_WATCH_MS, else 10 ms). */
  watchThresholdMs?: number;
}

export interface TraceResult {
  outDir: string;
  rawDir: string;
  database: string;
  /** The program's exit code, or 128 + signal number when a signal ended it. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  merge: MergeSummary;
  output: string;
}

/** The environment that attaches the collector; children inherit it (keep it when spawning workers). */
export function collectorEnv(collector: string, rawDir: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, NVTX_INJECTION64_PATH: collector, GIL_NVTX_TRACE_DIR: rawDir };
}

const isRawFile = (name: string) => name.endsWith(RAW_FILE_SUFFIX) || name.endsWith(SAMPLE_FILE_SUFFIX);

/** Removes the collector's and the watchdog's files from `rawDir`, and the folder when that empties it. */
export function removeRawFiles(rawDir: string): void {
  for (const name of readdirSync(rawDir)) if (isRawFile(name)) rmSync(join(rawDir, name), { force: true });
  try {
    rmdirSync(rawDir);
  } catch {
    /* something else lives there: leave it */
  }
}

/**
 * Makes `outDir` this run's own: a second run into it (a nested `gil-nvtx trace`, two shells with the
 * default -o) would delete this one's raw files and merge its processes. Fails at once when another
 * run holds it; a run that died holds nothing.
 */
export async function lockTraceDir(outDir: string): Promise<HeldLock> {
  try {
    makeDirs(outDir);
  } catch (err) {
    throw new GilNvtxError(`Cannot prepare the trace folder ${outDir}: ${(err as Error).message}`, { hint: 'Pick a writable folder with -o DIR.', cause: err });
  }
  const lock = await tryLock(join(outDir, LOCK_FILE));
  if (lock) return lock;
  const owner = lockOwner(join(outDir, LOCK_FILE));
  throw new GilNvtxError(`The trace folder ${outDir} is in use by another gil-nvtx run${owner ? ` (pid ${owner})` : ''}.`, {
    hint: 'Give this run its own folder with -o DIR, or wait for the other run to end.',
  });
}

/** Prepares `<outDir>/raw`, removing collector files a previous run left there. */
export function prepareTraceDir(outDir: string): string {
  const rawDir = join(outDir, RAW_SUBDIR);
  try {
    makeDirs(rawDir);
    for (const name of readdirSync(rawDir)) if (isRawFile(name)) rmSync(join(rawDir, name));
  } catch (err) {
    throw new GilNvtxError(`Cannot prepare the trace folder ${outDir}: ${(err as Error).message}`, {
      hint: 'Pick a writable folder with -o DIR.',
      cause: err,
    });
  }
  return rawDir;
}

/**
 * Runs `command` with the collector injected (NVTX_INJECTION64_PATH), waits for it, then merges every
 * process's file into `<outDir>/trace.sqlite`. A program that fails or is killed is still merged:
 * what it recorded up to then is in its file.
 */
export async function traceCommand(command: string[], opts: TraceOptions = {}): Promise<TraceResult> {
  const [exe, ...args] = command;
  const base = opts.env ?? process.env;
  const collector = collectorForCommand(command, base, 'gil-nvtx trace [-o DIR] -- <command…>', opts.onProgress, opts.collector);
  const outDir = resolve(opts.outDir ?? 'gil-nvtx-trace');
  const lock = await lockTraceDir(outDir);
  try {
    return await traceLocked(exe!, args, collector, outDir, base, opts);
  } finally {
    lock.release();
  }
}

/** Refuses a second NVTX tool, then finds (or builds) the collector: what `trace` and `record` check first. */
export function collectorForCommand(command: string[], base: NodeJS.ProcessEnv, usage: string, onProgress?: (line: string) => void, collector?: string): string {
  if (!command[0]) throw new GilNvtxError(`No command to ${usage.split(' ')[1]}.`, { hint: `usage: ${usage}`, exitCode: 2 });
  if (base.NVTX_INJECTION64_PATH && !base.NVTX_INJECTION64_PATH.endsWith('gil_nvtx_collector.so')) {
    throw new GilNvtxError(`Another NVTX tool is attached already (NVTX_INJECTION64_PATH=${base.NVTX_INJECTION64_PATH}).`, {
      hint: 'A process can have only one NVTX tool. Run gil-nvtx outside nsys, or use `gil-nvtx profile` for nsys.',
      exitCode: 2,
    });
  }
  return collector ?? findOrBuildCollector({ env: base, onProgress });
}

export interface CommandRun {
  /** The program's exit code, or 128 + signal number when a signal ended it. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  output: string;
}

/**
 * Runs the traced command with `env` and waits for it. SIGINT, SIGTERM and SIGHUP sent to us are passed
 * on to it (Ctrl-C reaches the whole foreground group; we wait for the program to be gone).
 */
export async function runTracedCommand(exe: string, args: string[], env: NodeJS.ProcessEnv, opts: { cwd?: string; stdio?: 'inherit' | 'pipe'; onSpawn?: (pid: number) => void }): Promise<CommandRun> {
  const ran = new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((res, rej) => {
    const child = spawn(exe, args, { env, cwd: opts.cwd, stdio: opts.stdio === 'pipe' ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    if (child.pid) opts.onSpawn?.(child.pid);
    let out = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
    // Ctrl-C reaches the whole foreground group; the trace is merged once the program is gone.
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, forward(sig)] as const);
    for (const [sig, h] of handlers) process.on(sig, h);
    const done = () => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
    child.on('error', (err) => {
      done();
      rej(new GilNvtxError(`Cannot run ${exe}: ${err.message}`, { hint: 'Check the command name and PATH.', exitCode: 127, cause: err }));
    });
    child.on('close', (c, s) => {
      done();
      res({ code: c, signal: s, output: out });
    });
  });
  const { code, signal, output } = await ran;
  const { constants } = await import('node:os');
  return { exitCode: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0), signal, output };
}

async function traceLocked(exe: string, args: string[], collector: string, outDir: string, base: NodeJS.ProcessEnv, opts: TraceOptions): Promise<TraceResult> {
  const rawDir = prepareTraceDir(outDir);
  const watchdog = startWatchdog(collector, rawDir, ['--threshold-ms', String(opts.watchThresholdMs ?? envThresholdMs(base))], opts.onProgress);
  const env = collectorEnv(collector, rawDir, base);
  if (watchdog.pid) env.GIL_NVTX_WATCHDOG_PID = String(watchdog.pid);
  // The watchdog stops whatever happens to the command, a spawn failure included.
  const { exitCode, signal, output } = await runTracedCommand(exe, args, env, opts).finally(() => watchdog.stop());
  const database = join(outDir, TRACE_DB);
  if (rawTraceFiles(rawDir).length === 0) {
    removeRawFiles(rawDir);
    const ended = signal ? `was ended by ${signal}` : `exited with ${exitCode}`;
    // The command's failure is the news; a clean exit with nothing traced is the trace's failure.
    throw new GilNvtxError(`No process of the command made an NVTX call, so no trace was written (the command ${ended}).`, {
      hint: 'Only processes that load NVTX write a trace: a patched CPython (`gil-nvtx build-python`), Node with the gil-nvtx addon, a C program with the NVTX headers. Is another NVTX tool (nsys) attached already?',
      exitCode: exitCode === 0 ? 1 : exitCode,
    });
  }
  const merge = mergeTrace(rawDir, database);
  if (!opts.keepRaw) removeRawFiles(rawDir);
  return { outDir, rawDir, database, exitCode, signal, merge, output };
}

/**
 * Merges a trace folder's raw files into `<outDir>/trace.sqlite` after the fact: for a `gil-nvtx trace`
 * that died before its merge (SIGKILL, a closed terminal), or a program started with `collectorEnv`.
 * Run it once the traced processes have ended: a file still being written is merged as far as it got.
 */
export async function mergeTraceDir(outDir: string, opts: { keepRaw?: boolean; output?: string } = {}): Promise<{ outDir: string; database: string; merge: MergeSummary }> {
  const dir = resolve(outDir);
  const rawDir = join(dir, RAW_SUBDIR);
  if (!existsSync(rawDir)) {
    throw new GilNvtxError(`${dir} has no raw/ folder: nothing to merge.`, { hint: 'Give the folder `gil-nvtx trace -o DIR` (or GIL_NVTX_TRACE_DIR=DIR/raw) wrote to.' });
  }
  const lock = await lockTraceDir(dir);
  try {
    const database = opts.output ? resolve(opts.output) : join(dir, TRACE_DB);
    const merge = mergeTrace(rawDir, database);
    if (!opts.keepRaw) removeRawFiles(rawDir);
    return { outDir: dir, database, merge };
  } finally {
    lock.release();
  }
}

/** A watchdog threshold in whole milliseconds (0 to 60,000, the watchdog's own bounds), or null. */
export function parseWatchMs(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null;
  const v = Number(value);
  return Number.isInteger(v) && v >= 0 && v <= 60000 ? v : null;
}

export function envThresholdMs(env: NodeJS.ProcessEnv): number {
  return parseWatchMs(env.GIL_NVTX_WATCH_MS) ?? 10;
}

/**
 * The watchdog (native/watchdog) beside the traced program: it allocates trace-file space ahead of
 * the recording threads and samples long GIL holds. Without one (a build that lacks it) the trace
 * still works: threads allocate for themselves and long holds carry no samples.
 */
export function startWatchdog(
  collector: string,
  rawDir: string,
  args: string[],
  onProgress?: (line: string) => void,
  onLine?: (line: string) => void,
): { pid: number | undefined; stop: () => Promise<void> } {
  const exe = watchdogFor(collector);
  if (!exe) {
    onProgress?.(`no watchdog beside ${collector}: long holds will not be explained`);
    return { pid: undefined, stop: async () => {} };
  }
  // With onLine, its stdout is a pipe of trigger lines (`gil-nvtx record`).
  const child = spawn(exe, [rawDir, ...args], { stdio: ['ignore', onLine ? 'pipe' : 'ignore', 'inherit'] });
  if (onLine && child.stdout) {
    let rest = '';
    child.stdout.on('data', (b: Buffer) => {
      const lines = (rest + b.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) if (l) onLine(l);
    });
  }
  const exited = new Promise<void>((res) => {
    child.once('close', () => res());
    child.once('error', () => res());
  });
  return {
    pid: child.pid,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
