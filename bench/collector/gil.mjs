#!/usr/bin/env node
// The collector on GIL transitions, side by side in one run, rounds interleaved: a patched CPython with
// no tool, with the gil-nvtx collector (and its watchdog, as `gil-nvtx trace` runs them) and under nsys
// (-t nvtx), on three workloads (bench/collector/gil_workload.py): one thread and two threads handing
// the GIL off on every os.read, and two CPU-bound threads. The collector runs twice: as users get it,
// and with the interpreter's Python locations off (PYTHON_GIL_NVTX_LOCATION_MS=off), which prices the
// locations' clock reads and frame loads on every transition. Reports the median wall, CPU and voluntary
// context switches and the ratios to no tool; then, for the collector, bytes of raw file per GIL range
// and the merge's speed (raw records per second).
//
//   node bench/collector/gil.mjs [--python <patched python>] [--rounds 5] [--no-nsys]
//
// Without --python it uses (or builds) the default patched interpreter with build-python.
// nsys runs go through scripts/nsys-locked.sh (one nsys at a time on the machine).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildPython, defaultDemoVersion } from '../../dist/python/build.js';
import { findOrBuildCollector, watchdogFor } from '../../dist/trace/collector-path.js';
import { mergeTrace } from '../../dist/trace/merge.js';
import { GIL_WORKLOADS as WORKLOADS, sideBySide } from '../lib/gil-runs.mjs';

const { values } = parseArgs({
  options: {
    python: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    'no-nsys': { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const python = values.python ?? (await buildPython({ version: defaultDemoVersion(), quiet: true })).python;
const collector = findOrBuildCollector();
const watchdog = watchdogFor(collector);
const work = mkdtempSync(join(tmpdir(), 'gil-nvtx-bench-gil-'));
const nsys = values['no-nsys'] ? '' : spawnSync('sh', ['-c', 'command -v nsys'], { encoding: 'utf8' }).stdout.trim();

const rawDirOf = (i) => join(work, `raw-${i}`);
const VARIANTS = [
  { name: 'none', python, tool: 'none' },
  { name: 'collector', python, tool: 'collector', collector, watchdog, rawDir: rawDirOf(1) },
  { name: 'collector, locations off', python, tool: 'collector', collector, watchdog, rawDir: rawDirOf(2), env: { PYTHON_GIL_NVTX_LOCATION_MS: 'off' } },
  ...(nsys ? [{ name: 'nsys', python, tool: 'nsys', nsys, trace: 'nvtx' }] : []),
];
const fmt = (x, d = 3) => x.toFixed(d);
console.log((await sideBySide({ variants: VARIANTS, baseline: 'none', rounds, work, title: `GIL workloads on ${python}` })).table);

// Size and merge speed of the last collector trace of each workload.
console.log('\n| workload | GIL ranges | raw bytes | bytes per range | merge s | raw records / s |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [i, w] of WORKLOADS.entries()) {
  const rawDir = `${rawDirOf(1)}-${i}`;
  const bytes = readdirSync(rawDir).filter((n) => n.endsWith('.gnvtx')).reduce((a, n) => a + statSync(join(rawDir, n)).blocks * 512, 0);
  const t0 = performance.now();
  const m = mergeTrace(rawDir, join(work, `merged-${i}.sqlite`));
  const sec = (performance.now() - t0) / 1000;
  const ranges = m.events; // rows: every GIL range is one, plus a handful of definitions
  console.log(`| ${w.name} | ${ranges} | ${bytes} | ${fmt(bytes / ranges, 1)} | ${fmt(sec, 2)} | ${Math.round(m.records / sec)} |`);
}
rmSync(work, { recursive: true, force: true });
