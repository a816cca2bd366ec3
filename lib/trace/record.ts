// `gil-nvtx record`: the always-on flight recorder. The command runs with the collector in ring mode
// (each process records into a fixed-size ring file, native/collector/raw_format.h); a trigger - a GIL
// hold past a threshold (the watchdog reports it), SIGUSR2, `gil-nvtx dump DIR` - copies the window
// around it out of every ring (lib/trace/ring-dump.ts) and merges it into DIR/dump-<n>-<time>/, a
// trace folder `gil-nvtx report` reads. Recording goes on. Nothing here can block the traced
// processes: they write into their mappings whatever this process does, and go on if it dies.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GilNvtxError } from '../errors.js';
import { formatBytes } from '../units.js';
import { lockOwner, tryLock } from '../lock.js';
import { mergeTraceInWorker } from './merge-worker.js';
import { GilMetrics, serveMetrics, writeFileAtomically } from './metrics.js';
import { HeaderOffset, RAW_HEADER_SIZE, RAW_RING_DEF_CHUNKS, RAW_RING_MIN_CHUNKS } from './raw-format.js';
import { RingSnapshot, ringFiles, type RingCopy, type TimeWindow } from './ring-dump.js';
import { LOCK_FILE, TRACE_DB, type TraceOptions, collectorEnv, collectorForCommand, envThresholdMs, lockTraceDir, removeRawFiles, runTracedCommand, startWatchdog } from './run.js';

/** Where the live rings are, inside the record folder. */
export const RING_SUBDIR = 'ring';
/** Names the recorder's pid, so that `gil-nvtx dump DIR` signals a recorder and never a `trace`. */
export const RECORDER_FILE = '.gil-nvtx-recorder';
/** A finished dump folder: dump-<n>-<UTC time>. */
const DUMP_NAME = /^dump-(\d+)-/;
/** Share of --max-disk for the rings, and how many processes' rings it is sized for. */
const RING_SHARE = 0.5;
export const RING_PROCESSES = 8;
/** How often a dump in progress copies the rings again until its window ends. */
const RECOPY_MS = 50;

/** The options `record` shares with `trace` mean the same; `outDir` defaults to `gil-nvtx-record`. */
export interface RecordOptions extends Pick<TraceOptions, 'outDir' | 'env' | 'cwd' | 'collector' | 'stdio' | 'onProgress'> {
  /** Watchdog sampling threshold (as `trace --watch-ms`). */
  watchThresholdMs?: number;
  /** How far back a ring must reach; also how long an ended process's ring is kept. Default 30 s. */
  windowMs?: number;
  /** Disk for the whole run: rings (half, for RING_PROCESSES processes) and kept dumps (half). Default 512 MiB. */
  maxDiskBytes?: number;
  /** A GIL hold longer than this triggers a dump (0 = never). Default 100 ms. */
  triggerHoldMs?: number;
  /** A GIL wait longer than this triggers a dump. Default 0 (never). */
  triggerWaitMs?: number;
  /** A dump covers [trigger - before, trigger + after]. Defaults 10 s and 2 s. */
  beforeMs?: number;
  afterMs?: number;
  /** Dumps kept, oldest removed first. Default 10. */
  maxDumps?: number;
  /** Keep each dump's raw/ beside its trace.sqlite. */
  keepRaw?: boolean;
  /** Called once a dump folder is in place. */
  onDump?: (d: DumpResult) => void;
  /** Called with the command's pid once it runs. */
  onSpawn?: (pid: number) => void;
  /**
   * Serve GIL metrics in the Prometheus text format on http://metricsHost:metricsPort/metrics
   * (0 = a free port; `onMetrics` gets the URL) while the command runs.
   */
  metricsPort?: number;
  /** Default 127.0.0.1 (loopback only). */
  metricsHost?: string;
  /** Also (or only) write the exposition here, atomically, every interval and at the end. Default DIR/metrics.prom when metricsPort is set. */
  metricsFile?: string;
  /** How often the metrics file is written and the ratio gauges move on. Default 10 s. */
  metricsIntervalMs?: number;
  /** Called once with the metrics URL. */
  onMetrics?: (url: string) => void;
}

export interface Trigger {
  kind: 'hold' | 'wait' | 'signal';
  /** CLOCK_MONOTONIC ns: the hold's (wait's) start, or when the signal arrived. */
  atNs: number;
  pid?: number;
  tid?: number;
}

export interface DumpResult {
  dir: string;
  window: TimeWindow;
  triggers: Trigger[];
  chunks: number;
  /** Chunks of the window the ring reused while they were being copied: left out. */
  torn: number;
  /** Chunks of the window the ring reused before their end was copied: kept as far as they were. */
  lost: number;
}

export interface RecordResult {
  outDir: string;
  exitCode: number;
  signal: NodeJS.Signals | null;
  output: string;
  dumps: DumpResult[];
  /** Triggers folded into a dump another trigger started. */
  coalesced: number;
  /** Dumps that failed (a full disk, a deleted folder): the recording went on. */
  failedDumps: string[];
  ringChunks: number;
  /** The metrics file, when metrics were on. */
  metricsFile?: string;
}

/** The metrics file's default name in the record folder. */
export const METRICS_FILE = 'metrics.prom';

const monoNs = () => Number(process.hrtime.bigint()); // CLOCK_MONOTONIC, as the collector's timestamps

/** Ring chunks per process for a disk budget: RING_SHARE of it, for RING_PROCESSES processes. */
export function ringChunksFor(maxDiskBytes: number, chunkBytes: number): number {
  const perProcess = (maxDiskBytes * RING_SHARE) / RING_PROCESSES - RAW_HEADER_SIZE;
  return Math.max(RAW_RING_MIN_CHUNKS, Math.floor(perProcess / chunkBytes) - RAW_RING_DEF_CHUNKS);
}

/** The smallest --max-disk: rings of RAW_RING_MIN_CHUNKS for RING_PROCESSES processes, twice. */
export function minDiskBytes(env: NodeJS.ProcessEnv = process.env): number {
  return ((RAW_HEADER_SIZE + (RAW_RING_MIN_CHUNKS + RAW_RING_DEF_CHUNKS) * chunkBytes(env)) * RING_PROCESSES) / RING_SHARE;
}

/** The collector's chunk size for `env` (GIL_NVTX_CHUNK_KB, as recorder.c rounds it). */
function chunkBytes(env: NodeJS.ProcessEnv): number {
  const kb = Number(env.GIL_NVTX_CHUNK_KB);
  const want = Number.isInteger(kb) && kb >= 16 && kb <= 4096 ? kb * 1024 : 64 * 1024;
  let bytes = 16384;
  while (bytes < want) bytes *= 2;
  return bytes;
}

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

/** Bytes under `path` (a dump folder). */
function folderBytes(path: string): number {
  let total = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) {
    const p = join(path, e.name);
    total += e.isDirectory() ? folderBytes(p) : statSync(p).size;
  }
  return total;
}

/** The dump folders in `outDir`, oldest first. */
export function listDumps(outDir: string): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(outDir);
  } catch {
    return [];
  }
  return names
    .filter((n) => DUMP_NAME.test(n))
    .sort((a, b) => Number(DUMP_NAME.exec(a)![1]) - Number(DUMP_NAME.exec(b)![1]))
    .map((n) => join(outDir, n));
}

/**
 * Runs `command` under the flight recorder until it ends. Triggers within one dump's window fold into
 * that dump; at most `maxDumps` dumps are kept (and no more than half of `maxDiskBytes`).
 */
export async function recordCommand(command: string[], opts: RecordOptions = {}): Promise<RecordResult> {
  const [exe, ...args] = command;
  const base = opts.env ?? process.env;
  const collector = collectorForCommand(command, base, 'gil-nvtx record [-o DIR] -- <command…>', opts.onProgress, opts.collector);
  const outDir = resolve(opts.outDir ?? 'gil-nvtx-record');
  const windowMs = opts.windowMs ?? 30_000;
  const beforeMs = opts.beforeMs ?? Math.min(10_000, windowMs);
  const afterMs = opts.afterMs ?? 2_000;
  if (beforeMs + afterMs > windowMs) {
    throw new GilNvtxError(`--before plus --after (${beforeMs + afterMs} ms) is longer than --window (${windowMs} ms).`, { hint: 'A dump covers at most one window: lengthen --window or shorten --before/--after.', exitCode: 2 });
  }
  const maxDisk = opts.maxDiskBytes ?? 512 * 1024 ** 2;
  const maxDumps = opts.maxDumps ?? 10;
  const ringChunks = ringChunksFor(maxDisk, chunkBytes(base));
  const lock = await lockTraceDir(outDir);
  const ringDir = join(outDir, RING_SUBDIR);
  const dumps: DumpResult[] = [];
  const failedDumps: string[] = [];
  let coalesced = 0;
  let dumpNumber = listDumps(outDir).reduce((n, d) => Math.max(n, Number(DUMP_NAME.exec(d.slice(outDir.length + 1))![1])), 0);
  try {
    mkdirSync(ringDir, { recursive: true });
    for (const name of readdirSync(ringDir)) rmSync(join(ringDir, name), { force: true, recursive: true });
    writeFileSync(join(outDir, RECORDER_FILE), `${process.pid}\n`);
  } catch (err) {
    lock.release();
    throw new GilNvtxError(`Cannot prepare the record folder ${outDir}: ${(err as Error).message}`, { hint: 'Pick a writable folder with -o DIR.', cause: err });
  }
  let triggers = 0;
  const metricsOn = opts.metricsPort !== undefined || opts.metricsFile !== undefined;
  const metrics = metricsOn ? new GilMetrics(ringDir, () => ({ dumps: dumps.length, failedDumps: failedDumps.length, triggers, coalesced })) : null;
  const metricsFile = metricsOn ? resolve(opts.metricsFile ?? join(outDir, METRICS_FILE)) : undefined;
  let server: Awaited<ReturnType<typeof serveMetrics>>['server'] | null = null;
  if (metrics && opts.metricsPort !== undefined) {
    try {
      const served = await serveMetrics(metrics, opts.metricsHost ?? '127.0.0.1', opts.metricsPort);
      server = served.server;
      opts.onMetrics?.(served.url);
    } catch (err) {
      rmSync(join(outDir, RECORDER_FILE), { force: true });
      lock.release();
      throw err;
    }
  }
  let metricsFailure = '';
  const writeMetrics = async () => {
    if (!metrics || !metricsFile) return;
    metrics.refresh();
    metrics.markInterval(monoNs());
    try {
      writeFileAtomically(metricsFile, await metrics.registry.metrics());
      metricsFailure = '';
    } catch (err) {
      const why = `cannot write the metrics file ${metricsFile}: ${(err as Error).message.split('\n')[0]}; recording goes on`;
      if (why !== metricsFailure) opts.onProgress?.(why);
      metricsFailure = why;
    }
  };
  const metricsTimer = metrics ? setInterval(() => void writeMetrics(), opts.metricsIntervalMs ?? 10_000) : null;

  // One dump at a time: `pending` waits for its window's end; triggers inside its window join it. Its
  // past is copied at once, before the rings reuse it; the rest when the window ends.
  interface Pending {
    n: number;
    tmp: string;
    window: TimeWindow;
    triggers: Trigger[];
    timer: NodeJS.Timeout;
    /** Copies again while the window runs: a chunk a thread leaves (or a thread that ends) is reused soon. */
    recopy: NodeJS.Timeout;
    snapshot: RingSnapshot | null;
    error: unknown;
  }
  let pending: Pending | null = null;
  let last: TimeWindow | null = null;
  const startDump = (window: TimeWindow, t: Trigger, delayMs: number): Pending => {
    const n = ++dumpNumber;
    const tmp = join(outDir, `.dump-${n}.tmp`);
    const p: Pending = { n, tmp, window, triggers: [t], timer: setTimeout(flush, delayMs), recopy: setInterval(() => recopy(p), RECOPY_MS), snapshot: null, error: null };
    try {
      // Never recreate a record folder someone deleted: say so at each trigger instead.
      if (!existsSync(ringDir)) throw new Error(`${ringDir} is gone (the record folder was deleted?)`);
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(join(tmp, 'raw'), { recursive: true });
      p.snapshot = new RingSnapshot(ringDir, join(tmp, 'raw'), window);
      p.snapshot.copy();
    } catch (err) {
      p.snapshot?.close();
      p.error = err;
    }
    return p;
  };
  const recopy = (p: Pending) => {
    if (p.error || !p.snapshot) return;
    try {
      p.snapshot.copy();
    } catch (err) {
      p.error = err;
    }
  };
  // Dumps are merged one after another, off the main thread, while triggers keep coming.
  let merging: Promise<void> = Promise.resolve();
  /** The window's last copy, now (the merge may wait for an earlier dump's). */
  const finishCopy = (p: Pending): RingCopy | null => {
    try {
      if (p.error || !p.snapshot) throw p.error;
      p.snapshot.copy();
      return p.snapshot.finish();
    } catch (err) {
      p.snapshot?.close();
      p.error = err;
      return null;
    }
  };
  const writeDump = async (p: Pending, copy: RingCopy | null) => {
    const { n, tmp } = p;
    try {
      if (!copy) throw p.error;
      const raw = join(tmp, 'raw');
      if (copy.files === 0) {
        rmSync(tmp, { recursive: true, force: true });
        opts.onProgress?.(`dump ${n}: no process recorded anything in the window; nothing written`);
        return;
      }
      await mergeTraceInWorker(raw, join(tmp, TRACE_DB), p.window);
      if (!opts.keepRaw) removeRawFiles(raw);
      writeFileSync(join(tmp, 'dump.json'), `${JSON.stringify({ window: p.window, triggers: p.triggers, chunks: copy.chunks, tornChunks: copy.torn, lostChunkEnds: copy.lost, ringReachedNs: copy.earliestNs }, null, 2)}\n`);
      const dir = join(outDir, `dump-${n}-${stamp()}`);
      renameSync(tmp, dir);
      const d: DumpResult = { dir, window: p.window, triggers: p.triggers, chunks: copy.chunks, torn: copy.torn, lost: copy.lost };
      dumps.push(d);
      if (copy.earliestNs > p.window.fromNs + 1e9) {
        opts.onProgress?.(`dump ${n}: the rings reached back only ${((p.window.toNs - copy.earliestNs) / 1e9).toFixed(1)} s of the ${((p.window.toNs - p.window.fromNs) / 1e9).toFixed(1)} s asked for (raise --max-disk)`);
      }
      if (copy.torn + copy.lost > 0) {
        // The ring wrapped faster than the copies every RECOPY_MS: what it overwrote is missing.
        opts.onProgress?.(`dump ${n}: ${copy.torn + copy.lost} chunk(s) of the window were overwritten before they were copied whole (the ring wrapped in less than ${RECOPY_MS} ms; raise --max-disk)`);
      }
      opts.onDump?.(d);
      pruneDumps();
      const size = folderBytes(dir);
      if (size > maxDisk * (1 - RING_SHARE)) opts.onProgress?.(`dump ${n} takes ${formatBytes(size)}, more than the half of --max-disk kept for dumps: older dumps were removed`);
    } catch (err) {
      p.snapshot?.close();
      rmSync(tmp, { recursive: true, force: true });
      const why = `dump ${n} failed: ${(err as Error).message.split('\n')[0]}; recording goes on`;
      failedDumps.push(why);
      opts.onProgress?.(why);
    }
  };
  const pruneDumps = () => {
    const all = listDumps(outDir);
    const sizes = all.map(folderBytes);
    let total = sizes.reduce((a, b) => a + b, 0);
    // The newest dump stays, even alone over the budget (the progress line says so).
    for (let i = 0; i < all.length - 1 && (all.length - i > maxDumps || total > maxDisk * (1 - RING_SHARE)); i++) {
      rmSync(all[i]!, { recursive: true, force: true });
      total -= sizes[i]!;
    }
  };
  function flush(): void {
    if (!pending) return;
    const p = pending;
    pending = null;
    clearTimeout(p.timer);
    clearInterval(p.recopy);
    last = p.window;
    const copy = finishCopy(p);
    merging = merging.then(() => writeDump(p, copy));
  }
  const trigger = (t: Trigger) => {
    triggers++;
    const inside = (w: TimeWindow | null) => w !== null && t.atNs >= w.fromNs && t.atNs <= w.toNs;
    if (pending && inside(pending.window)) {
      pending.triggers.push(t);
      coalesced++;
      return;
    }
    if (inside(last)) {
      coalesced++;
      return;
    }
    flush(); // a trigger past the pending window: that dump is written now, this one starts
    const now = monoNs();
    // Windows never overlap: one that would reach back into the last dump's starts where it ended, so
    // that a stall (and each moment) is in one dump, not in two.
    const from = t.atNs - beforeMs * 1e6;
    const window = { fromNs: last && t.atNs > last.toNs ? Math.max(from, last.toNs + 1) : from, toNs: Math.max(t.atNs, now) + afterMs * 1e6 };
    pending = startDump(window, t, Math.max(0, (window.toNs - now) / 1e6));
  };

  // Ended processes' rings are removed once no dump can want them (a window after their end).
  const ended = new Map<string, number>();
  const pruneRings = () => {
    const now = monoNs();
    const rings = ringFiles(ringDir);
    const u64 = (h: Buffer, off: number) => h.readUInt32LE(off + 4) * 2 ** 32 + h.readUInt32LE(off);
    for (const { file, header } of rings) {
      const pid = header.readUInt32LE(HeaderOffset.pid);
      const end = u64(header, HeaderOffset.endNs);
      // exec keeps the pid: a newer file of the pid means this program image is gone.
      const replaced = rings.some((o) => o.header.readUInt32LE(HeaderOffset.pid) === pid && u64(o.header, HeaderOffset.startNs) > u64(header, HeaderOffset.startNs));
      let alive = end === 0 && !replaced;
      if (alive) {
        try {
          process.kill(pid, 0);
        } catch {
          alive = false;
        }
      }
      if (alive) continue;
      const since = ended.get(file) ?? (end || now);
      ended.set(file, since);
      if (now - since > windowMs * 1e6) {
        rmSync(file, { force: true });
        ended.delete(file);
      }
    }
  };
  const ringTimer = setInterval(pruneRings, Math.min(1000, windowMs));

  const watchdog = startWatchdog(
    collector,
    ringDir,
    [
      ...['--threshold-ms', String(opts.watchThresholdMs ?? envThresholdMs(base)), '--trigger-hold-ms', String(opts.triggerHoldMs ?? 100)],
      ...['--trigger-wait-ms', String(opts.triggerWaitMs ?? 0), '--samples-max-bytes', String(Math.floor((maxDisk * (1 - RING_SHARE)) / 8))],
    ],
    opts.onProgress,
    (line) => {
      const [kind, pid, tid, at] = line.split(' ');
      if ((kind === 'hold' || kind === 'wait') && Number(at) > 0) trigger({ kind, atNs: Number(at), pid: Number(pid), tid: Number(tid) });
    },
  );
  const onSignal = () => trigger({ kind: 'signal', atNs: monoNs() });
  process.on('SIGUSR2', onSignal);
  // The collector counts holds of --trigger-hold-ms or more as long in its metrics table.
  const env: NodeJS.ProcessEnv = { ...collectorEnv(collector, ringDir, base), GIL_NVTX_RING_CHUNKS: String(ringChunks), GIL_NVTX_LONG_HOLD_MS: String(opts.triggerHoldMs ?? 100) };
  if (watchdog.pid) env.GIL_NVTX_WATCHDOG_PID = String(watchdog.pid);
  try {
    const run = await runTracedCommand(exe!, args, env, { cwd: opts.cwd, stdio: opts.stdio, onSpawn: opts.onSpawn });
    flush(); // the command is gone: its window's end holds nothing more
    await merging;
    if (metricsTimer) clearInterval(metricsTimer);
    await writeMetrics(); // the final values, read before the rings are removed
    return { outDir, ...run, dumps, coalesced, failedDumps, ringChunks, metricsFile };
  } finally {
    process.off('SIGUSR2', onSignal);
    clearInterval(ringTimer);
    if (metricsTimer) clearInterval(metricsTimer);
    server?.close();
    server?.closeAllConnections(); // a scraper's keep-alive connection must not outlive the run
    if (pending) {
      const p = pending as Pending;
      clearTimeout(p.timer);
      clearInterval(p.recopy);
      p.snapshot?.close();
    }
    await watchdog.stop();
    rmSync(ringDir, { recursive: true, force: true });
    rmSync(join(outDir, RECORDER_FILE), { force: true });
    lock.release();
  }
}

/** `gil-nvtx dump DIR`: asks the recorder running into DIR for a dump (SIGUSR2). Returns its pid. */
export async function requestDump(outDir: string): Promise<number> {
  const dir = resolve(outDir);
  const owner = lockOwner(join(dir, LOCK_FILE));
  const recorder = lockOwner(join(dir, RECORDER_FILE));
  // The pid files outlive a recorder that was killed: only a held lock says one runs (and is that pid).
  const free = await tryLock(join(dir, LOCK_FILE));
  free?.release();
  if (free || !owner || owner !== recorder) {
    throw new GilNvtxError(`No gil-nvtx record is running into ${dir}.`, { hint: 'Give the folder a running `gil-nvtx record -o DIR` writes to.' });
  }
  try {
    process.kill(owner, 'SIGUSR2');
  } catch (err) {
    throw new GilNvtxError(`Cannot signal the recorder (pid ${owner}): ${(err as Error).message}`, { cause: err });
  }
  return owner;
}
