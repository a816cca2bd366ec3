#!/usr/bin/env node
// Per-event cost of a C push+pop pair (registered string, one domain) with no tool, with the gil-nvtx
// collector (TSC timestamps, and clock_gettime timestamps forced with GIL_NVTX_COLLECTOR_CLOCK=monotonic),
// and under nsys, on the same program in one run, rounds interleaved. Reports wall and CPU
// ns per pair (CPU time is what the call costs the thread; wall time also measures the neighbours on a
// shared machine) and the ratio to no tool. Usage: node bench/collector/run.mjs [pairs] [rounds]
// nsys runs go through scripts/nsys-locked.sh (one nsys at a time on the machine).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
const { findNvtxHeaders } = require(join(root, 'scripts/nvtx-headers.cjs'));
const pairs = Number(process.argv[2] ?? 2_000_000);
const rounds = Number(process.argv[3] ?? 3);
const work = mkdtempSync(join(tmpdir(), 'gil-nvtx-bench-collector-'));

const include = findNvtxHeaders(process.env).includeDir;
const program = join(work, 'nvtx_events');
execFileSync('cc', ['-O2', '-std=gnu11', `-I${include}`, join(root, 'test-support/programs/nvtx_events.c'), '-o', program, '-lpthread', '-ldl']);
const build = join(work, 'build');
execFileSync('cmake', ['-S', root, '-B', build, '-DCMAKE_BUILD_TYPE=Release'], { stdio: 'ignore' });
execFileSync('cmake', ['--build', build], { stdio: 'ignore' });
const collector = join(build, 'gil_nvtx_collector.so');

const nsys = spawnSync('sh', ['-c', 'command -v nsys'], { encoding: 'utf8' }).stdout.trim();
const parse = (out, key) => Number(new RegExp(`${key}=([0-9.]+)`).exec(out)?.[1] ?? NaN);

function runOnce(tool) {
  const env = { ...process.env };
  delete env.NVTX_INJECTION64_PATH;
  const raw = join(work, `raw-${tool}`);
  rmSync(raw, { recursive: true, force: true });
  let r;
  if (tool === 'collector' || tool === 'collector-monotonic') {
    const clock = tool === 'collector' ? 'auto' : 'monotonic';
    r = spawnSync(program, ['pairs', String(pairs)], { env: { ...env, NVTX_INJECTION64_PATH: collector, GIL_NVTX_TRACE_DIR: raw, GIL_NVTX_COLLECTOR_CLOCK: clock }, encoding: 'utf8' });
  } else if (tool === 'nsys') {
    r = spawnSync(join(root, 'scripts/nsys-locked.sh'), ['300', 'profile', '-t', 'nvtx', '-s', 'none', '--cpuctxsw=none', '--force-overwrite=true', '-o', join(work, 'nsys'), program, 'pairs', String(pairs)], { env, encoding: 'utf8' });
  } else {
    r = spawnSync(program, ['pairs', String(pairs)], { env, encoding: 'utf8' });
  }
  const out = `${r.stdout}${r.stderr}`;
  return { wall: parse(out, 'ns_per_pair'), cpu: parse(out, 'cpu_ns_per_pair') };
}

const tools = ['none', 'collector', 'collector-monotonic', ...(nsys ? ['nsys'] : [])];
const loadBefore = loadavg();
const results = Object.fromEntries(tools.map((t) => [t, []]));
for (let i = 0; i < rounds; i++) for (const t of tools) results[t].push(runOnce(t));
const clock = spawnSync(program, ['clock', '2000000'], { encoding: 'utf8' }).stdout;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const base = { wall: median(results.none.map((r) => r.wall)), cpu: median(results.none.map((r) => r.cpu)) };
const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
console.log(`push+pop pairs: ${pairs} per run, ${rounds} rounds interleaved, median; ${new Date().toISOString()}`);
console.log(`load average (1, 5, 15 min): ${load(loadBefore)} before, ${load(loadavg())} after; ${process.arch}`);
console.log(`one CLOCK_MONOTONIC read: ${parse(clock, 'ns_per_read').toFixed(1)} ns wall, ${parse(clock, 'cpu_ns_per_read').toFixed(1)} ns CPU`);
console.log('| tool | ns/pair (wall) | ns/pair (CPU) | CPU vs no tool |');
console.log('|---|---:|---:|---:|');
for (const t of tools) {
  const wall = median(results[t].map((r) => r.wall));
  const cpu = median(results[t].map((r) => r.cpu));
  const label = { none: 'no tool', nsys: 'nsys (2022.4)', collector: 'gil-nvtx collector (default clock: TSC where invariant)', 'collector-monotonic': 'gil-nvtx collector, GIL_NVTX_COLLECTOR_CLOCK=monotonic' }[t];
  console.log(`| ${label} | ${wall.toFixed(1)} | ${cpu.toFixed(1)} | ${(cpu / base.cpu).toFixed(0)}x |`);
}
if (!nsys) console.log('(nsys not installed: its row is missing)');
rmSync(work, { recursive: true, force: true });
