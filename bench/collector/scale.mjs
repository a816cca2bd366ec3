#!/usr/bin/env node
// The collector at scale, end to end on a real patched CPython: record N GIL release+retake cycles
// (2N GIL ranges) with `gil-nvtx trace` (collector + watchdog), then report on the trace. Prints the raw
// bytes per GIL range, the merge's speed (raw records per second) and the full analysis's wall and CPU
// seconds and peak RSS (bench/report/analyze-once.mjs under /usr/bin/time). Needs `npm run build:ts`.
//
//   node bench/collector/scale.mjs [--cycles 1000000,10000000] [--python <patched python>]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildPython, defaultDemoVersion } from '../../dist/python/build.js';
import { traceCommand } from '../../dist/trace/run.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({ options: { cycles: { type: 'string', default: '1000000,10000000' }, python: { type: 'string' } } });
const python = values.python ?? (await buildPython({ version: defaultDemoVersion(), quiet: true })).python;
const work = mkdtempSync(join(tmpdir(), 'gil-nvtx-bench-scale-'));
const workload = join(root, 'bench/collector/gil_workload.py');

console.log(`collector at scale on ${python}; ${new Date().toISOString()}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log('| GIL ranges | raw MB | bytes / range | merge s | raw records / s | report wall s | report CPU s | report peak RSS MB |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const cycles of values.cycles.split(',').map(Number)) {
  const outDir = join(work, `t${cycles}`);
  // One thread: every os.read releases and retakes the GIL (a wait and a hold each).
  const t = await traceCommand([python, workload, 'handoff', '1', String(cycles)], { outDir, stdio: 'pipe', keepRaw: true });
  const rawBytes = spawnSync('du', ['-sb', t.rawDir], { encoding: 'utf8' }).stdout.split('\t')[0];
  // Merge again on its own, timed (traceCommand merged once already; same input).
  const t0 = performance.now();
  const { mergeTrace } = await import('../../dist/trace/merge.js');
  const m = mergeTrace(t.rawDir, join(outDir, 'again.sqlite'));
  const mergeS = (performance.now() - t0) / 1000;
  rmSync(t.rawDir, { recursive: true, force: true });
  const timeFile = join(work, 'time.txt');
  const r = spawnSync('/usr/bin/time', ['-v', '-o', timeFile, process.execPath, join(root, 'bench/report/analyze-once.mjs'), t.database], { encoding: 'utf8' });
  const tv = readFileSync(timeFile, 'utf8');
  if (r.status !== 0) throw new Error(`report failed:\n${r.stderr}\n${tv}`);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(tv);
  const wallS = Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]);
  const cpuS = Number(/User time \(seconds\): ([\d.]+)/.exec(tv)[1]) + Number(/System time \(seconds\): ([\d.]+)/.exec(tv)[1]);
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(tv)[1]) / 1024;
  const ranges = 2 * cycles;
  console.log(`| ${ranges} | ${(rawBytes / 1e6).toFixed(1)} | ${(rawBytes / ranges).toFixed(1)} | ${mergeS.toFixed(1)} | ${Math.round(m.records / mergeS)} | ${wallS.toFixed(1)} | ${cpuS.toFixed(1)} | ${rss.toFixed(0)} |`);
  rmSync(outDir, { recursive: true, force: true });
}
rmSync(work, { recursive: true, force: true });
