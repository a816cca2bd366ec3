// The CMake build of everything native (`npm run build:cmake`, cmake-js, from native/build.json like
// binding.gyp): its addon loads, and its collector records that addon's ranges. The build goes to
// build-cmake-js/, so build/Release (node-gyp's, which the other tests use) is left alone; it is
// incremental, so after the first run this costs a second.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { mergeTrace } from '../../lib/trace/merge.js';
import { readEvents, scratchDir } from '../trace/helpers.js';
import { DIST_INDEX, ensureBuilt, ROOT } from './helpers.js';

const OUT = join(ROOT, 'build-cmake-js');
const ADDON = join(OUT, 'Release', 'gil_nvtx.node');
const COLLECTOR = join(OUT, 'gil_nvtx_collector.so');
let script: string;

beforeAll(() => {
  ensureBuilt();
  const built = spawnSync('npm', ['run', 'build:cmake'], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
  if (built.status !== 0) throw new Error(`npm run build:cmake failed:\n${built.stdout.slice(-3000)}${built.stderr.slice(-3000)}`);
  script = join(scratchDir('cmake-js'), 'main.mjs');
  writeFileSync(
    script,
    `const nvtx = await import(${JSON.stringify(DIST_INDEX)});\n` +
      `const d = nvtx.domain('cmake-js');\n` +
      `d.range('outer', () => d.range('inner', () => {}));\n` +
      `d.mark('done', { payload: 7 });\n` +
      `console.log(JSON.stringify({ status: nvtx.status(), stats: nvtx.nativeStats() }));\n`,
  );
}, 600_000);

it('loads the cmake-js addon and records its ranges with the cmake-js collector', () => {
  const raw = join(scratchDir('cmake-js-trace'), 'raw');
  const env: NodeJS.ProcessEnv = { ...process.env, GIL_NVTX_ADDON_PATH: ADDON, NVTX_INJECTION64_PATH: COLLECTOR, GIL_NVTX_TRACE_DIR: raw };
  delete env.GIL_NVTX_FORCE_NATIVE;
  const run = spawnSync(process.execPath, [script], { env, encoding: 'utf8', timeout: 60_000 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const out = JSON.parse(run.stdout.trim()) as { status: { mode: string; addonPath: string }; stats: { domains: number } };
  expect(out.status).toMatchObject({ mode: 'native', addonPath: ADDON });
  expect(out.stats.domains).toBe(1);

  const db = join(raw, '..', 'trace.sqlite');
  mergeTrace(raw, db);
  const events = readEvents(db).filter((e) => e.domain === 'cmake-js' && e.eventType !== 75);
  expect(events.map((e) => [e.name, e.eventType, e.payload])).toEqual([
    ['outer', 59, null],
    ['inner', 59, null],
    ['done', 34, 'i64:7'],
  ]);
});
