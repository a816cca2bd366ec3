import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { cacheRoot } from '../../lib/cache.js';
import { findNvtxHeaders } from '../../lib/nvtx-headers.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CACHE = join(cacheRoot(), 'test-collector');

function sourceHash(files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(f).update(readFileSync(join(ROOT, f)));
  return h.digest('hex').slice(0, 16);
}

/** Builds (once per source version, shared by test files) into the cache and returns the path of `file`. */
function cachedBuild(key: string, file: string, build: (dir: string) => void): string {
  const dir = join(CACHE, key);
  const out = join(dir, file);
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(join(CACHE, `${key}.tmp-`));
  try {
    build(tmp);
    try {
      renameSync(tmp, dir);
    } catch {
      /* another test file won the race; its build is identical */
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

/**
 * The collector, built with CMake from native/build.json (the same list binding.gyp reads), so the tests
 * exercise the CMake path and never depend on what `npm install` happened to build.
 */
export function ensureCollector(): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'native/build.json'), 'utf8')) as { collector: { sources: string[] }; watchdog: { sources: string[] } };
  // The build holds the watchdog too (beside the collector, where `gil-nvtx trace` looks for it).
  const files = ['CMakeLists.txt', 'native/build.json', 'native/collector/raw_format.h', 'native/collector/recorder.h', ...manifest.collector.sources, ...manifest.watchdog.sources];
  return cachedBuild(`collector-${sourceHash(files)}`, 'gil_nvtx_collector.so', (dir) => {
    execFileSync('cmake', ['-S', ROOT, '-B', dir, '-DCMAKE_BUILD_TYPE=Release'], { stdio: 'pipe' });
    execFileSync('cmake', ['--build', dir], { stdio: 'pipe' });
  });
}

/** test-support/programs/nvtx_events.c, compiled against the NVTX headers found on this machine. */
export function ensureEventsProgram(): string {
  const src = 'test-support/programs/nvtx_events.c';
  return cachedBuild(`nvtx_events-${sourceHash([src])}`, 'nvtx_events', (dir) => {
    const include = findNvtxHeaders().includeDir;
    execFileSync('cc', ['-O2', '-std=gnu11', `-I${include}`, join(ROOT, src), '-o', join(dir, 'nvtx_events'), '-lpthread', '-ldl'], { stdio: 'pipe' });
  });
}

export function scratchDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `gil-nvtx-${name}-`));
}

/** Runs `argv` with the collector attached, writing raw files to `rawDir`. */
export function runWithCollector(argv: string[], rawDir: string, extraEnv: NodeJS.ProcessEnv = {}) {
  const [exe, ...args] = argv;
  return spawnSync(exe!, args, {
    env: { ...process.env, NVTX_INJECTION64_PATH: ensureCollector(), GIL_NVTX_TRACE_DIR: rawDir, ...extraEnv },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

export interface NormalizedEvent {
  eventType: number;
  name: string | null;
  domain: string | null;
  pid: number;
  tid: number;
  endTid: number | null;
  category: number | null;
  color: number | null;
  payload: string | null;
  start: number;
  end: number | null;
}

/** NVTX_EVENTS rows with names and domains resolved the way the report does (nsys.md §6). */
export function readEvents(dbPath: string): NormalizedEvent[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT e.eventType, COALESCE(s.value, e.text) AS name,
                (SELECT d.text FROM NVTX_EVENTS d WHERE d.eventType = 75 AND d.domainId = e.domainId
                   AND ((d.globalTid >> 24) & 0xFFFFFF) = ((e.globalTid >> 24) & 0xFFFFFF)) AS domain,
                (e.globalTid >> 24) & 0xFFFFFF AS pid, e.globalTid & 0xFFFFFF AS tid,
                CASE WHEN e.endGlobalTid IS NULL THEN NULL ELSE e.endGlobalTid & 0xFFFFFF END AS endTid,
                e.category, e.color,
                COALESCE('u64:' || e.uint64Value, 'i64:' || e.int64Value, 'f64:' || e.doubleValue, 'u32:' || e.uint32Value,
                         'i32:' || e.int32Value, 'f32:' || e.floatValue) AS payload,
                e.start, e.end
         FROM NVTX_EVENTS e LEFT JOIN StringIds s ON s.id = e.textId
         ORDER BY e.start, e.eventType`,
      )
      .all() as NormalizedEvent[];
  } finally {
    db.close();
  }
}

export function queryAll<T = Record<string, unknown>>(dbPath: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

/** Everything but timestamps and ids: thread and process ids become roles, nesting becomes a path. */
export function normalizeForComparison(events: NormalizedEvent[], mainPid: number): string[] {
  const role = (pid: number, tid: number | null) => (tid === null ? null : `${pid === mainPid ? 'main' : 'child'}:${tid === pid ? 'main' : 'thread'}`);
  const ranges = events.filter((e) => e.eventType === 59);
  const parents = (e: NormalizedEvent) =>
    ranges
      .filter((o) => o !== e && o.tid === e.tid && o.pid === e.pid && o.domain === e.domain && o.start <= e.start && o.end! >= e.end!)
      .map((o) => o.name)
      .join('/');
  return events
    .filter((e) => [33, 34, 39, 59, 60, 75].includes(e.eventType))
    .map((e) =>
      JSON.stringify([
        e.eventType,
        e.name,
        e.domain,
        role(e.pid, e.tid),
        e.eventType === 60 ? role(e.pid, e.endTid) : null,
        e.category,
        e.color,
        e.payload,
        e.eventType === 59 ? parents(e) : null,
      ]),
    )
    .sort();
}
