import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeDirs } from '../make-dirs.js';
import { cacheRoot } from '../cache.js';
import { GilNvtxError } from '../errors.js';
import { findNvtxHeaders } from '../nvtx-headers.js';

export const COLLECTOR_FILE = 'gil_nvtx_collector.so';
/** The collector's watchdog program; every build puts it beside the collector. */
export const WATCHDOG_FILE = 'gil_nvtx_watchdog';

/** The watchdog beside `collector`, or null when that build has none. */
export function watchdogFor(collector: string): string | null {
  const p = join(dirname(collector), WATCHDOG_FILE);
  return existsSync(p) ? p : null;
}

// lib/trace and dist/trace both sit two levels under the package root.
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where a built collector can be, in the order they are tried. */
export function collectorCandidates(root: string = PACKAGE_ROOT, env: NodeJS.ProcessEnv = process.env): string[] {
  const list: string[] = [];
  if (env.GIL_NVTX_COLLECTOR) list.push(env.GIL_NVTX_COLLECTOR);
  list.push(
    join(root, 'build', 'Release', COLLECTOR_FILE), // npm install / npm run build:native (node-gyp)
    join(root, 'build', 'Debug', COLLECTOR_FILE),
    join(root, 'prebuilds', `${platform()}-${arch()}`, COLLECTOR_FILE),
    join(root, 'build-cmake', COLLECTOR_FILE), // cmake -S . -B build-cmake
  );
  return list;
}

/** The collector library to put in NVTX_INJECTION64_PATH; explains how to build it when missing. */
export function findCollector(env: NodeJS.ProcessEnv = process.env, root: string = PACKAGE_ROOT): string {
  const tried = collectorCandidates(root, env);
  const found = tried.find((p) => existsSync(p));
  if (found) return found;
  throw new GilNvtxError(`The gil-nvtx collector library (${COLLECTOR_FILE}) is not built. Looked in:\n${tried.map((p) => `  ${p}`).join('\n')}`, {
    hint:
      'Build it with `npm run build:native` (node-gyp, in the package folder), or with CMake: ' +
      '`cmake -S . -B build-cmake && cmake --build build-cmake`. Both need the NVTX v3 headers ' +
      '(`node scripts/nvtx-headers.cjs` says where it looks). Or point GIL_NVTX_COLLECTOR at a built copy.',
    exitCode: 2,
  });
}

/**
 * Compiles the collector with the system C compiler into `outDir` (no node-gyp, no CMake): what
 * `gil-nvtx trace` and `demo` fall back to when nothing was built and no prebuild fits (a checkout
 * before `npm run build:native`, a platform the package ships no prebuilds for). Same sources as
 * binding.gyp and CMakeLists.txt.
 */
export function buildCollector(outDir: string, opts: { root?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const root = opts.root ?? PACKAGE_ROOT;
  const env = opts.env ?? process.env;
  const manifest = JSON.parse(readFileSync(join(root, 'native', 'build.json'), 'utf8')) as {
    collector: { sources: string[]; defines?: string[]; cflags_x64?: string[] };
    watchdog: { sources: string[] };
  };
  const include = findNvtxHeaders(env).includeDir;
  const out = join(outDir, COLLECTOR_FILE);
  const tmp = `${out}.tmp-${process.pid}`;
  makeDirs(outDir);
  const cc = env.CC || 'cc';
  const args = [
    '-std=gnu11', '-O2', '-fPIC', '-fvisibility=hidden', '-shared', '-Wl,-z,nodelete',
    ...(process.arch === 'x64' ? (manifest.collector.cflags_x64 ?? []) : []),
    `-I${include}`,
    ...(manifest.collector.defines ?? []).map((d) => `-D${d}`),
    ...manifest.collector.sources.map((s) => join(root, s)),
    '-o', tmp, '-lpthread',
  ];
  const r = spawnSync(cc, args, { env, encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new GilNvtxError(`Building the gil-nvtx collector with ${cc} failed${r.error ? `: ${r.error.message}` : ''}.`, {
      hint: `${(r.stderr ?? '').trim().split('\n').slice(-8).join('\n')}\nInstall a C compiler (build-essential), or build with \`npm run build:native\`.`,
      exitCode: 2,
    });
  }
  const watchdog = join(outDir, WATCHDOG_FILE);
  const wtmp = `${watchdog}.tmp-${process.pid}`;
  const w = spawnSync(cc, ['-std=gnu11', '-O2', ...manifest.watchdog.sources.map((s) => join(root, s)), '-o', wtmp], { env, encoding: 'utf8' });
  if (w.status !== 0) {
    rmSync(tmp, { force: true });
    rmSync(wtmp, { force: true });
    throw new GilNvtxError(`Building the gil-nvtx watchdog with ${cc} failed${w.error ? `: ${w.error.message}` : ''}.`, {
      hint: `${(w.stderr ?? '').trim().split('\n').slice(-8).join('\n')}\nInstall a C compiler (build-essential), or build with \`npm run build:native\`.`,
      exitCode: 2,
    });
  }
  renameSync(wtmp, watchdog);
  renameSync(tmp, out);
  return out;
}

/** findCollector, else a build into the user cache (once per source version), reported through onProgress. */
export function findOrBuildCollector(opts: { env?: NodeJS.ProcessEnv; root?: string; onProgress?: (line: string) => void } = {}): string {
  const env = opts.env ?? process.env;
  const root = opts.root ?? PACKAGE_ROOT;
  try {
    return findCollector(env, root);
  } catch (err) {
    if (env.GIL_NVTX_COLLECTOR) throw err; // an explicit path that does not exist: say so, do not guess
    const manifest = readFileSync(join(root, 'native', 'build.json'));
    const hash = createHash('sha256').update(manifest);
    for (const folder of ['collector', 'watchdog']) {
      for (const f of readdirSync(join(root, 'native', folder)).sort()) {
        if (/\.[ch]$/.test(f)) hash.update(f).update(readFileSync(join(root, 'native', folder, f)));
      }
    }
    const dir = join(cacheRoot(env), 'collector', hash.digest('hex').slice(0, 16));
    const cached = join(dir, COLLECTOR_FILE);
    if (existsSync(cached)) return cached;
    opts.onProgress?.(`building the collector into ${dir} (no build found in the package)…`);
    return buildCollector(dir, { root, env });
  }
}
