// The path of a user who installs from the registry: `npm pack`, then an empty project installs the
// tarball with install scripts off (npm 11 runs none it was not told to trust) and rebuilds only
// better-sqlite3, on a machine where no NVTX headers can be found. The addon, the collector and its
// watchdog must all come from the package's prebuilds: nothing of gil-nvtx may be compiled.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readEvents } from '../trace/helpers.js';
import { ROOT } from '../nvtx/helpers.js';

const TUPLE = `${process.platform}-${process.arch}`;
let work: string;
let project: string;
let packed: string[];
let userEnv: NodeJS.ProcessEnv;

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 900_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return r;
}

function mustRun(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): string {
  const r = run(cmd, args, cwd, env);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}:\n${r.stderr.slice(-4000)}`);
  return r.stdout;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'gil-nvtx-install-'));
  // Packing runs prepack (the prebuilds) and prepare (tsc); done in a copy, so that this checkout's
  // dist/ and prebuilds/, which other test files use meanwhile, are never rewritten under them.
  const src = join(work, 'src');
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
  const inputs = [...pkg.files, 'package.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json', 'lib'].map((f) => f.replace(/\/$/, ''));
  for (const entry of inputs) {
    if (entry === 'dist' || entry === 'prebuilds' || !existsSync(join(ROOT, entry))) continue;
    cpSync(join(ROOT, entry), join(src, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(src, 'node_modules'));
  mustRun('npm', ['pack', '--pack-destination', work], src);
  const tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
  packed = mustRun('tar', ['tzf', tarball], work).split('\n');

  // The user's machine: no NVTX headers anywhere the builds look, no gil-nvtx cache to fall back on.
  const noHeaders = join(work, 'no-nvtx-headers');
  mkdirSync(noHeaders);
  userEnv = { ...process.env, NVTX_INCLUDE_DIR: noHeaders, GIL_NVTX_CACHE_DIR: join(work, 'user-cache') };
  for (const v of ['CPATH', 'C_INCLUDE_PATH', 'CPLUS_INCLUDE_PATH', 'CUDA_HOME', 'CUDA_PATH', 'GIL_NVTX_COLLECTOR', 'GIL_NVTX_ADDON_PATH', 'GIL_NVTX_FORCE_NATIVE', 'NVTX_INJECTION64_PATH', 'CI']) {
    delete userEnv[v];
  }
  project = join(work, 'app');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-app', private: true, type: 'module' }));
  mustRun('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball], project, userEnv);
  // better-sqlite3 compiles from source: its first step, prebuild-install, downloads from GitHub, which
  // this machine cannot reach, and this flag makes it give way to node-gyp at once.
  mustRun('npm', ['rebuild', 'better-sqlite3'], project, { ...userEnv, npm_config_build_from_source: 'true' });
  writeFileSync(
    join(project, 'main.mjs'),
    `import * as nvtx from 'gil-nvtx';\n` +
      `const d = nvtx.domain('user-app');\n` +
      `d.range('parse', () => d.range('tokenize', () => {}));\n` +
      `await d.trace('request', () => new Promise((r) => setTimeout(r, 5)));\n` +
      `d.mark('checkpoint');\n` +
      `console.log(JSON.stringify({ status: nvtx.status(), collector: process.env.NVTX_INJECTION64_PATH, watchdog: Boolean(process.env.GIL_NVTX_WATCHDOG_PID) }));\n`,
  );
}, 1_200_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

it('npm pack ships the addon, the collector and the watchdog as prebuilds, and no build folder', () => {
  expect(packed).toEqual(
    expect.arrayContaining([
      `package/prebuilds/${TUPLE}/gil-nvtx.glibc.node`,
      `package/prebuilds/${TUPLE}/gil_nvtx_collector.so`,
      `package/prebuilds/${TUPLE}/gil_nvtx_watchdog`,
      'package/dist/index.js',
    ]),
  );
  expect(packed.filter((f) => f.startsWith('package/build'))).toEqual([]);
});

it('installed with --ignore-scripts and no NVTX headers, a Node program is traced and reported', () => {
  const pkg = join(project, 'node_modules', 'gil-nvtx');
  expect(existsSync(join(pkg, 'build'))).toBe(false); // nothing of gil-nvtx was compiled
  const cli = join(project, 'node_modules', '.bin', 'gil-nvtx');
  const traced = run(process.execPath, [cli, 'trace', '-o', 'out', '--', process.execPath, 'main.mjs'], project, userEnv);
  expect(traced.status, traced.stderr).toBe(0);
  const seen = JSON.parse(traced.stdout.trim().split('\n').pop()!) as { status: { mode: string; addonPath: string }; collector: string; watchdog: boolean };
  expect(seen.status.mode).toBe('native');
  expect(seen.status.addonPath).toBe(join(pkg, 'prebuilds', TUPLE, 'gil-nvtx.glibc.node'));
  expect(seen.collector).toBe(join(pkg, 'prebuilds', TUPLE, 'gil_nvtx_collector.so'));
  expect(seen.watchdog).toBe(true);
  expect(existsSync(join(project, 'user-cache'))).toBe(false); // no fallback build of the collector

  const events = readEvents(join(project, 'out', 'trace.sqlite')).filter((e) => e.domain === 'user-app');
  expect(events.map((e) => [e.name, e.eventType])).toEqual([
    ['user-app', 75], // the domain's creation
    ['parse', 59],
    ['tokenize', 59],
    ['request', 60],
    ['checkpoint', 34],
  ]);

  // A Node-only trace has no GIL ranges; the report says so and names the domain it found.
  const report = run(process.execPath, [cli, 'report', 'out'], project, userEnv);
  expect(report.stderr).toContain('NVTX domains present: "user-app"');
  expect(report.stderr).not.toMatch(/^\s+at /m);
  expect(report.status).toBe(3);
});
