// Peak memory of `gil-nvtx report` against trace length: the full analysis (bench/report/analyze-once.mjs)
// under /usr/bin/time -v on generated nsys-schema exports (test-support/generate-trace.mjs), by default
// 1,000,000 holds + 1,000,000 waits. The report streams the GIL ranges, so peak RSS should stay flat as
// the trace grows; `--holds 1000000,10000000` shows it (the 20M-range file is about 1 GB).
// Usage: npm run build:ts && node bench/report/memory.mjs [--holds N[,N…]] [--runs K] [--outputs]
//   --outputs  also writes the HTML page and the Perfetto JSON (to a temporary folder)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateTrace } from '../../test-support/generate-trace.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { holds: { type: 'string' }, runs: { type: 'string' }, outputs: { type: 'boolean' } } });
const sizes = (values.holds ?? '1000000').split(',').map(Number);
const runs = Number(values.runs ?? 1);
const scratch = mkdtempSync(join(tmpdir(), 'gil-nvtx-bench-memory-'));
const timeFile = join(scratch, 'time.txt');

function measure(file) {
  const extra = values.outputs ? ['--html', join(scratch, 'report.html'), '--perfetto', join(scratch, 'trace.json')] : [];
  const r = spawnSync('/usr/bin/time', ['-v', '-o', timeFile, process.execPath, join(here, 'analyze-once.mjs'), file, ...extra], { encoding: 'utf8' });
  const report = existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(report);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
  const user = /User time \(seconds\): ([\d.]+)/.exec(report);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(report);
  if (r.status !== 0 || !wall || !rss) throw new Error(`analysis of ${file} failed (${r.status}):\n${r.stdout}\n${r.stderr}\n${report}`);
  return {
    wallS: Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]),
    cpuS: Number(user?.[1] ?? 0) + Number(sys?.[1] ?? 0),
    rssMB: Number(rss[1]) / 1024,
    stdout: r.stdout.trim(),
  };
}

const rows = [];
for (const holds of sizes) {
  const file = join(homedir(), '.cache', 'gil-nvtx', 'bench', `report-${holds}.sqlite`);
  mkdirSync(dirname(file), { recursive: true });
  if (!existsSync(file)) {
    process.stderr.write(`generating ${file} (${holds} holds + ${holds} waits)…\n`);
    generateTrace(file, { holds, threads: 8 });
  }
  const rs = [];
  for (let i = 0; i < runs; i++) {
    const r = measure(file);
    rs.push(r);
    process.stderr.write(`${(2 * holds).toLocaleString('en')} ranges, run ${i + 1}/${runs}: ${r.wallS.toFixed(2)} s, ${r.rssMB.toFixed(0)} MB (${r.stdout})\n`);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  rows.push({ ranges: 2 * holds, wall: median(rs.map((r) => r.wallS)), cpu: median(rs.map((r) => r.cpuS)), rss: median(rs.map((r) => r.rssMB)) });
}
rmSync(scratch, { recursive: true, force: true });
console.log(`\nfull analysis${values.outputs ? ' + HTML + Perfetto' : ''}, median of ${runs} run(s), load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores\n`);
console.log('| GIL ranges | wall time | CPU time | peak RSS |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.ranges.toLocaleString('en')} | ${r.wall.toFixed(2)} s | ${r.cpu.toFixed(2)} s | ${r.rss.toFixed(0)} MB |`);
