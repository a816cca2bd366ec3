// NVTX call costs, side by side in one process (what a user's hot loop pays per call).
//   npm run bench:addon                      no tool attached (mitata, ns)
//   npm run bench:addon -- --nsys            the same run again under `nsys profile -t nvtx`
//   node bench/addon/callgrind.mjs           instruction counts (deterministic; for gates)
// Results are ratios of cases measured in the same run: pair / (2 × empty native call) (goal ≤ 1.5 with no
// tool) and the JS no-op path's cost per call (goal ≤ 3 ns).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, bench } from 'mitata';
import { CASES, makeCases } from './cases.mjs';
import { loadVariants } from './variants.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);

if (args.includes('--nsys')) {
  // Re-run this script (without --nsys) under nsys, through the machine-wide lock.
  const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-bench-nsys-'));
  const rest = args.filter((a) => a !== '--nsys');
  const r = spawnSync(
    join(ROOT, 'scripts', 'nsys-locked.sh'),
    ['900', 'profile', '--trace=nvtx', '--sample=none', '--cpuctxsw=none', '--force-overwrite=true', `--output=${join(dir, 'bench')}`,
      process.execPath, fileURLToPath(import.meta.url), ...rest],
    { stdio: 'inherit' },
  );
  rmSync(dir, { recursive: true, force: true });
  process.exit(r.status ?? 1);
}

const variants = await loadVariants();
const cases = makeCases(variants);
for (const [key, name] of Object.entries(CASES)) bench(name, cases[key]);

const toolAttached = Boolean(process.env.NVTX_INJECTION64_PATH);
const result = await run({ format: args.includes('--quiet') ? 'quiet' : 'mitata', colors: false });
const ns = {};
for (const trial of result.benchmarks) {
  const stats = trial.runs[0]?.stats;
  if (stats) ns[trial.alias] = { avg: stats.avg, p50: stats.p50, min: stats.min };
}
const p50 = (key) => ns[CASES[key]].p50;
const summary = {
  toolAttached,
  node: process.version,
  cpu: result.context.cpu?.name ?? null,
  ns,
  ratios: {
    pairOverTwoEmptyCalls: p50('apiPair') / p50('native2'),
    rawArgPairOverTwoEmptyCalls: p50('rawArgPair') / p50('native2'),
    noopPathPerCallNs: p50('noopPair') / 2,
  },
};
const lines = [
  '',
  `gil-nvtx addon bench (${toolAttached ? 'under nsys' : 'no tool attached'}), Node ${process.version}, p50 ns per iteration:`,
  ...Object.entries(ns).map(([name, s]) => `  ${s.p50.toFixed(2).padStart(9)}  ${name}`),
  `  push+pop pair / (2 × empty native call): ${summary.ratios.pairOverTwoEmptyCalls.toFixed(2)}${toolAttached ? '' : ' (goal ≤ 1.5)'}` +
    ` [one-argument exports: ${summary.ratios.rawArgPairOverTwoEmptyCalls.toFixed(2)}]`,
  `  JS no-op path: ${summary.ratios.noopPathPerCallNs.toFixed(2)} ns per call (push or pop; goal ≤ 3 ns)`,
];
process.stdout.write(lines.join('\n') + '\n');
const outDir = join(ROOT, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, `addon-${toolAttached ? 'nsys' : 'no-tool'}.json`), JSON.stringify(summary, null, 2) + '\n');
