#!/usr/bin/env node
// What the gil_nvtx Python module's calls cost, side by side in one run: each form (push+pop, with
// annotate, a decorated call, mark) against an empty loop and a plain call, in one interpreter with no
// NVTX tool and then with the collector attached (NVIDIA's nvtx too, when that interpreter has it).
//   node bench/python/nvtx-module.mjs [--python <patched python>]
// Without --python it uses (or builds) the default patched interpreter with build-python.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildPython, defaultDemoVersion } from '../../dist/python/build.js';
import { ensureNvtxModule } from '../../dist/python/nvtx-module.js';
import { findCollector } from '../../dist/trace/collector-path.js';

const { values } = parseArgs({ options: { python: { type: 'string' } } });
const python = values.python ?? (await buildPython({ version: defaultDemoVersion(), quiet: true })).python;
await ensureNvtxModule(python);
const script = fileURLToPath(new URL('./nvtx-module.py', import.meta.url));

function run(env) {
  const r = spawnSync(python, ['-u', script], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) {
    console.error(`bench: ${python} ${script} failed (${r.signal ?? `exit ${r.status}`}): ${r.stderr.trim().split('\n').pop()}`);
    process.exit(1);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const raw = mkdtempSync(join(tmpdir(), 'gil-nvtx-bench-pynvtx-'));
let none;
let collector;
try {
  none = run({});
  collector = run({ NVTX_INJECTION64_PATH: findCollector(), GIL_NVTX_TRACE_DIR: raw, BENCH_N: '50000', BENCH_ROUNDS: '3' });
} finally {
  rmSync(raw, { recursive: true, force: true });
}
const rows = Object.keys(none).filter((k) => k !== 'python');
const width = Math.max(...rows.map((k) => k.length));
const cell = (v, base) => `${v.toFixed(1).padStart(8)} ns ${`(${(v / base).toFixed(1)}×)`.padStart(8)}`;
const lines = [
  `gil_nvtx on CPython ${none.python} (${python}), ns per call, best of runs; × = ratio to a plain Python call`,
  `${''.padEnd(width)}  ${'no tool'.padStart(20)}  ${'collector'.padStart(20)}`,
  ...rows.map((k) => `${k.padEnd(width)}  ${cell(none[k], none['plain call'])}  ${cell(collector[k], collector['plain call'])}`),
];
console.log(lines.join('\n'));
