#!/usr/bin/env node
// Cost of the GIL patch: the same workload on a patched and an unpatched build of the same CPython
// (same version, same configure flags), side by side in one run, rounds interleaved so both see the
// same machine. Two workloads from examples/workloads/: gil_handoff.py (as many GIL transitions as
// possible: time.sleep(0) in 4 threads) and gil_cpu_threads.py (CPU-bound threads, 5 ms switch
// interval). Each runs with no tool attached and under nsys (-t nvtx).
//
// Reported per workload: median wall and process-CPU seconds, the median of the per-round ratios
// patched / unpatched (wall and CPU), and — the number that does not depend on a busy machine —
// instructions counted by valgrind's callgrind, patched vs unpatched vs PYTHON_GIL_NVTX=0, as a ratio
// and as extra instructions per GIL transition (no tool attached: the hooks' state test).
//
//   node bench/gil/run.mjs [--version 3.11.2] [--rounds 5] [--no-nsys] [--no-callgrind] [--json]
//   node bench/gil/run.mjs --patched <python> --unpatched <python> …
//
// Without --patched/--unpatched it builds both from the same verified tarball with build-python
// (the unpatched one without the patch and -DPY_NVTX_GIL, otherwise the same configure arguments)
// into ~/.cache/gil-nvtx/bench/pythons/, once; later runs reuse them. Named interpreters must be real
// executables (not pyenv shims) built with the same flags.
// nsys runs go through scripts/nsys-locked.sh (one nsys at a time on the machine).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pythonPair } from '../lib/python-pair.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const { values } = parseArgs({
  options: {
    patched: { type: 'string', default: process.env.GIL_NVTX_BENCH_PATCHED },
    unpatched: { type: 'string', default: process.env.GIL_NVTX_BENCH_UNPATCHED },
    version: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    'no-nsys': { type: 'boolean', default: false },
    'no-callgrind': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
if (Boolean(values.patched) !== Boolean(values.unpatched) || (values.patched && values.version)) {
  process.stderr.write('usage: node bench/gil/run.mjs [--version V | --patched <python> --unpatched <python>] [--rounds N] [--no-nsys] [--no-callgrind] [--json]\n');
  process.exit(2);
}
if (!values.patched) Object.assign(values, await pythonPair(values.version));
const rounds = Number(values.rounds);
const work = mkdtempSync(join(tmpdir(), 'gil-nvtx-bench-gil-'));

const WORKLOADS = {
  // Counted twice, at two sizes: the difference between the two runs is the cost per transition,
  // free of the fixed start-up cost (NVTX looking for a tool, the interpreter starting).
  handoff: { script: 'gil_handoff.py', timed: ['--threads', '4', '--iters', '20000'], counted: ['--threads', '4', '--iters', '20000'], countedSmall: ['--threads', '4', '--iters', '2000'] },
  'cpu-threads': { script: 'gil_cpu_threads.py', timed: ['--threads', '4', '--n', '5000000'], counted: ['--threads', '4', '--n', '300000'] },
};

const DISABLED = { PYTHON_GIL_NVTX: '0' };
const VARIANTS = [
  { name: 'unpatched', python: values.unpatched, tool: 'none' },
  { name: 'patched', python: values.patched, tool: 'none' },
  { name: 'patched, PYTHON_GIL_NVTX=0', python: values.patched, tool: 'none', env: DISABLED },
  ...(values['no-nsys']
    ? []
    : [
        { name: 'unpatched under nsys', python: values.unpatched, tool: 'nsys' },
        { name: 'patched under nsys', python: values.patched, tool: 'nsys' },
      ]),
];

function cleanEnv(extra) {
  const env = { ...process.env, ...extra };
  delete env.NVTX_INJECTION64_PATH;
  return env;
}

function runOnceRaw(variant, args) {
  const env = cleanEnv(variant.env);
  const r =
    variant.tool === 'nsys'
      ? spawnSync(
          join(root, 'scripts/nsys-locked.sh'),
          ['300', 'profile', '--trace=nvtx', '--sample=none', '--cpuctxsw=none', '--force-overwrite=true', `--output=${join(work, 'bench')}`, variant.python, '-u', ...args],
          { env, encoding: 'utf8' },
        )
      : spawnSync(variant.python, ['-u', ...args], { env, encoding: 'utf8' });
  const m = /seconds ([0-9.]+) cpu ([0-9.]+)/.exec(r.stdout ?? '');
  if (r.status !== 0 || !m) throw new Error(`${variant.name}: ${r.stderr || r.stdout}`);
  return { wall: Number(m[1]), cpu: Number(m[2]) };
}

// nsys 2022.4 now and then fails to start (e.g. `sem_open: No such file or directory` while other
// nsys sessions come and go); such a run is repeated, up to twice.
function runOnce(variant, args, attempt = 0) {
  try {
    return runOnceRaw(variant, args);
  } catch (err) {
    if (variant.tool !== 'nsys' || attempt >= 2) throw err;
    process.stderr.write(`${variant.name}: nsys failed, retrying\n`);
    return runOnce(variant, args, attempt + 1);
  }
}

function instructions(python, args, env) {
  const r = spawnSync('valgrind', ['--tool=callgrind', `--callgrind-out-file=${join(work, 'cg.out')}`, python, ...args], { env: cleanEnv(env), encoding: 'utf8' });
  const m = /Collected : (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0 || !m) throw new Error(`callgrind ${python}: ${r.stderr?.slice(-500)}`);
  return Number(m[1]);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const results = [];
for (const [workload, w] of Object.entries(WORKLOADS)) {
  const args = [join(root, 'examples/workloads', w.script), ...w.timed];
  const times = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
  runOnce(VARIANTS[0], args); // warm the page cache
  for (let r = 0; r < rounds; r++) {
    // Alternate the order every round so neither build always runs first.
    const order = r % 2 ? [...VARIANTS].reverse() : VARIANTS;
    for (const v of order) times[v.name].push(runOnce(v, args));
    process.stderr.write(`${workload}: round ${r + 1}/${rounds}\n`);
  }
  const ratio = (a, b, key) => (times[a] ? median(times[a].map((t, i) => t[key] / times[b][i][key])) : null);
  const row = {
    workload,
    rounds,
    medianWall: Object.fromEntries(VARIANTS.map((v) => [v.name, median(times[v.name].map((t) => t.wall))])),
    medianCpu: Object.fromEntries(VARIANTS.map((v) => [v.name, median(times[v.name].map((t) => t.cpu))])),
    wallRatio: ratio('patched', 'unpatched', 'wall'),
    cpuRatio: ratio('patched', 'unpatched', 'cpu'),
    cpuRatioDisabled: ratio('patched, PYTHON_GIL_NVTX=0', 'unpatched', 'cpu'),
    wallRatioNsys: ratio('patched under nsys', 'unpatched under nsys', 'wall'),
    cpuRatioNsys: ratio('patched under nsys', 'unpatched under nsys', 'cpu'),
  };
  if (!values['no-callgrind']) {
    const script = join(root, 'examples/workloads', w.script);
    const un = instructions(values.unpatched, [script, ...w.counted], {});
    const pa = instructions(values.patched, [script, ...w.counted], {});
    const off = instructions(values.patched, [script, ...w.counted], DISABLED);
    let extraPerTransition = null;
    if (w.countedSmall) {
      const transitions = (args) => 2 * Number(args[args.indexOf('--threads') + 1]) * Number(args[args.indexOf('--iters') + 1]);
      const unSmall = instructions(values.unpatched, [script, ...w.countedSmall], {});
      const paSmall = instructions(values.patched, [script, ...w.countedSmall], {});
      extraPerTransition = (pa - paSmall - (un - unSmall)) / (transitions(w.counted) - transitions(w.countedSmall));
    }
    row.instructions = { unpatched: un, patched: pa, disabled: off, ratio: pa / un, ratioDisabled: off / un, extraPerTransition };
  }
  results.push(row);
}
rmSync(work, { recursive: true, force: true });

if (values.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
else {
  const f = (x, d = 3) => (x === null || x === undefined ? '—' : x.toFixed(d));
  process.stdout.write(
    '| workload | unpatched wall s | patched wall s | wall ratio | CPU ratio | CPU ratio, PYTHON_GIL_NVTX=0 | instructions ratio (callgrind) | extra instr. per transition | under nsys: wall ratio | under nsys: CPU ratio |\n|---|---|---|---|---|---|---|---|---|---|\n',
  );
  for (const r of results) {
    const i = r.instructions;
    process.stdout.write(
      `| ${r.workload} | ${f(r.medianWall.unpatched)} | ${f(r.medianWall.patched)} | ${f(r.wallRatio)} | ${f(r.cpuRatio)} | ${f(r.cpuRatioDisabled)} | ${i ? f(i.ratio, 4) : '—'} | ${i ? f(i.extraPerTransition, 1) : '—'} | ${f(r.wallRatioNsys)} | ${f(r.cpuRatioNsys)} |\n`,
    );
  }
}
