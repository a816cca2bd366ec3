// Side by side, in one run: gil-nvtx's full analysis vs `nsys stats --report nvtxsum` on the same
// generated nsys-schema export (1,000,000 holds + 1,000,000 waits). Wall time and peak RSS come from
// /usr/bin/time -v for both; runs alternate so that machine noise hits both alike.
// Usage: npm run build:ts && node bench/report/bench.mjs [--holds N] [--runs K] [--out file.sqlite]
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchTrace, median, timeFile, timed } from './timed.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values } = parseArgs({ options: { holds: { type: 'string' }, runs: { type: 'string' }, out: { type: 'string' } } });
const holds = Number(values.holds ?? 1_000_000);
const runs = Number(values.runs ?? 3);
const file = benchTrace(holds, values.out);

const nsysReport = (() => {
  const help = spawnSync(join(root, 'scripts/nsys-locked.sh'), ['120', 'stats', '--help-reports'], { encoding: 'utf8' });
  return /\bnvtx_sum\b/.test(help.stdout) ? 'nvtx_sum' : 'nvtxsum';
})();
const csvOut = join(tmpdir(), `gil-nvtx-bench-${process.pid}`);
// nsys runs through scripts/nsys-locked.sh (one nsys at a time on this machine). Timing the script would
// count the wait for that lock, so the script is handed a wrapper as its nsys (GIL_NVTX_NSYS) that
// times nsys alone, inside the lock.
const realNsys = spawnSync('sh', ['-c', 'command -v nsys'], { encoding: 'utf8' }).stdout.trim();
if (!realNsys) throw new Error('nsys not found on PATH');
const wrapper = join(tmpdir(), `gil-nvtx-bench-nsys-${process.pid}.sh`);
writeFileSync(wrapper, `#!/bin/sh\nexec /usr/bin/time -v -o '${timeFile}' '${realNsys}' "$@"\n`, { mode: 0o755 });
const contenders = {
  'gil-nvtx report (validation + stats + blame)': () => timed(process.execPath, [join(here, 'analyze-once.mjs'), file]),
  [`nsys stats --report ${nsysReport}`]: () =>
    timed(join(root, 'scripts/nsys-locked.sh'), ['600', 'stats', '--report', nsysReport, '--format', 'csv', '--force-overwrite=true', '--output', csvOut, file], {
      env: { ...process.env, GIL_NVTX_NSYS: wrapper },
      inside: true,
    }),
};
const results = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
for (let i = 0; i < runs; i++) {
  for (const [name, run] of Object.entries(contenders)) {
    const r = run();
    results[name].push(r);
    process.stderr.write(`run ${i + 1}/${runs} ${name}: ${r.wallS.toFixed(2)} s, ${r.rssMB.toFixed(0)} MB\n`);
  }
}
rmSync(`${csvOut}_${nsysReport}.csv`, { force: true });
rmSync(wrapper, { force: true });
rmSync(timeFile, { force: true });
const rows = Object.entries(results).map(([name, rs]) => ({
  name,
  wall: median(rs.map((r) => r.wallS)),
  cpu: median(rs.map((r) => r.cpuS)),
  rss: median(rs.map((r) => r.rssMB)),
}));
const [ours, theirs] = rows;
console.log(`\n${holds.toLocaleString('en')} holds + ${holds.toLocaleString('en')} waits, median of ${runs} alternating runs, load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores\n`);
console.log('| tool | wall time | CPU time | peak RSS |');
console.log('|---|---|---|---|');
for (const r of rows) console.log(`| ${r.name} | ${r.wall.toFixed(2)} s | ${r.cpu.toFixed(2)} s | ${r.rss.toFixed(0)} MB |`);
console.log(`| ratio (gil-nvtx / nsys) | ${(ours.wall / theirs.wall).toFixed(2)} | ${(ours.cpu / theirs.cpu).toFixed(2)} | ${(ours.rss / theirs.rss).toFixed(2)} |`);
console.log(`\n${results[ours.name][0].stdout.trim()}`);
