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
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildPython, defaultDemoVersion } from '../../dist/python/build.js';
import { findOrBuildCollector, watchdogFor } from '../../dist/trace/collector-path.js';
import { mergeTrace } from '../../dist/trace/merge.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
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
const watchdogExe = watchdogFor(collector);
const workload = join(root, 'bench/collector/gil_workload.py');
const work = mkdtempSync(join(tmpdir(), 'gil-nvtx-bench-gil-'));
const nsys = values['no-nsys'] ? '' : spawnSync('sh', ['-c', 'command -v nsys'], { encoding: 'utf8' }).stdout.trim();

const WORKLOADS = [
  { name: 'hand-off, 1 thread', args: ['handoff', '1', '300000'] },
  { name: 'hand-off, 2 threads', args: ['handoff', '2', '150000'] },
  { name: 'CPU-bound, 2 threads', args: ['cpu', '2', '3000000'] },
];
const TOOLS = ['none', 'collector', 'collector, locations off', ...(nsys ? ['nsys'] : [])];

function parse(out) {
  const line = out.split('\n').find((l) => l.startsWith('{"wall"'));
  if (!line) throw new Error(`no measurement in:\n${out}`);
  return JSON.parse(line);
}

async function runOnce(tool, w, rawDir) {
  const env = { ...process.env };
  delete env.NVTX_INJECTION64_PATH;
  const cmd = [python, workload, ...w.args];
  if (tool === 'none') return parse(spawnSync(cmd[0], cmd.slice(1), { env, encoding: 'utf8' }).stdout);
  if (tool === 'nsys') {
    const r = spawnSync(join(root, 'scripts/nsys-locked.sh'), ['300', 'profile', '-t', 'nvtx', '-s', 'none', '--cpuctxsw=none', '--force-overwrite=true', '-o', join(work, 'nsys'), ...cmd], { env, encoding: 'utf8' });
    return parse(`${r.stdout}`);
  }
  rmSync(rawDir, { recursive: true, force: true });
  mkdirSync(rawDir, { recursive: true });
  const watchdog = watchdogExe ? spawn(watchdogExe, [rawDir], { stdio: 'ignore' }) : null;
  const locations = tool === 'collector, locations off' ? { PYTHON_GIL_NVTX_LOCATION_MS: 'off' } : {};
  const r = spawnSync(cmd[0], cmd.slice(1), { env: { ...env, ...locations, NVTX_INJECTION64_PATH: collector, GIL_NVTX_TRACE_DIR: rawDir, GIL_NVTX_WATCHDOG_PID: String(watchdog?.pid ?? '') }, encoding: 'utf8' });
  if (watchdog) await new Promise((res) => { watchdog.once('close', res); watchdog.kill('SIGTERM'); });
  return parse(r.stdout);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const loadBefore = loadavg();
const results = new Map();
for (let i = 0; i < rounds; i++) {
  for (const w of WORKLOADS) {
    for (const t of TOOLS) {
      const key = `${w.name}|${t}`;
      if (!results.has(key)) results.set(key, []);
      results.get(key).push(await runOnce(t, w, join(work, `raw-${WORKLOADS.indexOf(w)}-${TOOLS.indexOf(t)}`)));
    }
  }
}
const fmt = (x, d = 3) => x.toFixed(d);
console.log(`GIL workloads on ${python}; ${rounds} rounds interleaved, medians; ${new Date().toISOString()}`);
console.log(`load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('| workload | tool | wall s | CPU s | vol. ctx sw | wall × | CPU × | ctx sw × |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const w of WORKLOADS) {
  const base = results.get(`${w.name}|none`);
  for (const t of TOOLS) {
    const rs = results.get(`${w.name}|${t}`);
    // Ratios per round, then the median: rounds see the same machine, side by side.
    const ratio = (k) => median(rs.map((r, i) => r[k] / Math.max(base[i][k], 1e-9)));
    console.log(`| ${w.name} | ${t} | ${fmt(median(rs.map((r) => r.wall)))} | ${fmt(median(rs.map((r) => r.cpu)))} | ${median(rs.map((r) => r.vcsw))} | ${fmt(ratio('wall'), 2)} | ${fmt(ratio('cpu'), 2)} | ${fmt(ratio('vcsw'), 2)} |`);
  }
}

// Size and merge speed of the last collector trace of each workload.
console.log('\n| workload | GIL ranges | raw bytes | bytes per range | merge s | raw records / s |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [i, w] of WORKLOADS.entries()) {
  const rawDir = join(work, `raw-${i}-${TOOLS.indexOf('collector')}`);
  const bytes = readdirSync(rawDir).filter((n) => n.endsWith('.gnvtx')).reduce((a, n) => a + statSync(join(rawDir, n)).blocks * 512, 0);
  const t0 = performance.now();
  const m = mergeTrace(rawDir, join(work, `merged-${i}.sqlite`));
  const sec = (performance.now() - t0) / 1000;
  const ranges = m.events; // rows: every GIL range is one, plus a handful of definitions
  console.log(`| ${w.name} | ${ranges} | ${bytes} | ${fmt(bytes / ranges, 1)} | ${fmt(sec, 2)} | ${Math.round(m.records / sec)} |`);
}
rmSync(work, { recursive: true, force: true });
