// Running the GIL workloads of bench/collector/gil_workload.py under one tool or another, side by
// side: each run measures itself (wall and process CPU of the work, voluntary context switches), so
// no tool's start-up or export is counted, and every tool is measured the same way.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const GIL_WORKLOAD = join(root, 'bench/collector/gil_workload.py');
const NSYS_LOCKED = join(root, 'scripts/nsys-locked.sh');

/** The three workloads: hand-off on every os.read in 1 and 2 threads, and CPU-bound threads. */
export const GIL_WORKLOADS = [
  { name: 'hand-off, 1 thread', args: ['handoff', '1', '300000'] },
  { name: 'hand-off, 2 threads', args: ['handoff', '2', '150000'] },
  { name: 'CPU-bound, 2 threads', args: ['cpu', '2', '3000000'] },
];

function measurement(out) {
  const line = out.split('\n').find((l) => l.startsWith('{"wall"'));
  if (!line) throw new Error(`no measurement in:\n${out}`);
  return JSON.parse(line);
}

/** This process's environment without an NVTX tool of its own, plus `extra` (which may name one). */
function cleanEnv(extra = {}) {
  const env = { ...process.env };
  delete env.NVTX_INJECTION64_PATH;
  return { ...env, ...extra };
}

/**
 * One run of `python gil_workload.py args` with the variant's tool:
 *   { tool: 'none' }
 *   { tool: 'nsys', nsys: PATH, trace: 'nvtx' | 'python-gil' }   through scripts/nsys-locked.sh
 *   { tool: 'collector', collector, watchdog, rawDir }            as `gil-nvtx trace` runs them
 * `env` adds variables for the traced program.
 */
export async function runWorkload(python, args, variant, work) {
  const cmd = [python, GIL_WORKLOAD, ...args];
  if (variant.tool === 'none') return measurement(spawnSync(cmd[0], cmd.slice(1), { env: cleanEnv(variant.env), encoding: 'utf8' }).stdout);
  if (variant.tool === 'nsys') {
    const r = spawnSync(
      NSYS_LOCKED,
      ['300', 'profile', `--trace=${variant.trace}`, '--sample=none', '--cpuctxsw=none', '--force-overwrite=true', '-o', join(work, 'nsys'), ...cmd],
      { env: cleanEnv({ ...variant.env, GIL_NVTX_NSYS: variant.nsys }), encoding: 'utf8' },
    );
    return measurement(r.stdout);
  }
  const rawDir = variant.rawDir;
  rmSync(rawDir, { recursive: true, force: true });
  mkdirSync(rawDir, { recursive: true });
  const watchdog = variant.watchdog ? spawn(variant.watchdog, [rawDir], { stdio: 'ignore' }) : null;
  const r = spawnSync(cmd[0], cmd.slice(1), {
    env: cleanEnv({ ...variant.env, NVTX_INJECTION64_PATH: variant.collector, GIL_NVTX_TRACE_DIR: rawDir, GIL_NVTX_WATCHDOG_PID: String(watchdog?.pid ?? '') }),
    encoding: 'utf8',
  });
  if (watchdog) await new Promise((res) => { watchdog.once('close', res); watchdog.kill('SIGTERM'); });
  return measurement(r.stdout);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Every workload under every variant, `rounds` times, rounds interleaved so that all variants see the
 * same machine; then one Markdown table of medians and of the median per-round ratio to `baseline`
 * (a variant name). Variants carry { name, python, tool, … }.
 */
export async function sideBySide({ workloads = GIL_WORKLOADS, variants, baseline, rounds, work, title }) {
  const loadBefore = loadavg();
  const results = new Map();
  for (let i = 0; i < rounds; i++) {
    for (const [wi, w] of workloads.entries()) {
      for (const v of variants) {
        const key = `${w.name}|${v.name}`;
        if (!results.has(key)) results.set(key, []);
        // A collector variant keeps one raw folder per workload: `${rawDir}-${workload index}`.
        results.get(key).push(await runWorkload(v.python, w.args, v.rawDir ? { ...v, rawDir: `${v.rawDir}-${wi}` } : v, work));
      }
    }
  }
  const fmt = (x, d = 3) => x.toFixed(d);
  const lines = [
    `${title}; ${rounds} rounds interleaved, medians; ${new Date().toISOString()}`,
    `load average before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
    `| workload | variant | wall s | CPU s | vol. ctx sw | wall × | CPU × | ctx sw × |`,
    '|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const w of workloads) {
    const base = results.get(`${w.name}|${baseline}`);
    for (const v of variants) {
      const rs = results.get(`${w.name}|${v.name}`);
      // Ratios per round, then the median: each round's runs saw the same machine.
      const ratio = (k) => median(rs.map((r, i) => r[k] / Math.max(base[i][k], 1e-9)));
      lines.push(`| ${w.name} | ${v.name} | ${fmt(median(rs.map((r) => r.wall)))} | ${fmt(median(rs.map((r) => r.cpu)))} | ${median(rs.map((r) => r.vcsw))} | ${fmt(ratio('wall'), 2)} | ${fmt(ratio('cpu'), 2)} | ${fmt(ratio('vcsw'), 2)} |`);
    }
  }
  return { results, table: lines.join('\n') };
}
