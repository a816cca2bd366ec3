#!/usr/bin/env node
// `npm run bench`: every benchmark in turn, each printing its own side-by-side table. They run one after
// another on purpose: two benchmarks sharing our 2 cores would measure each other. Name some to run only
// those: `npm run bench -- addon report`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BENCHES = {
  addon: 'addon/bench.mjs',
  collector: 'collector/run.mjs',
  'collector-gil': 'collector/gil.mjs',
  'collector-scale': 'collector/scale.mjs',
  report: 'report/bench.mjs',
  gil: 'gil/run.mjs',
  tracers: 'tracers/run.mjs',
  'python-nvtx': 'python/nvtx-module.mjs',
};
const wanted = process.argv.slice(2);
for (const name of wanted) {
  if (!(name in BENCHES)) {
    console.error(`bench: unknown benchmark '${name}' (have: ${Object.keys(BENCHES).join(', ')})`);
    process.exit(2);
  }
}
let failed = 0;
for (const [name, file] of Object.entries(BENCHES)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  console.log(`\n=== bench: ${name} ===`);
  const r = spawnSync(process.execPath, [fileURLToPath(new URL(file, import.meta.url))], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`bench: ${name} failed (${r.signal ?? `exit ${r.status}`})`);
    failed++;
  }
}
process.exitCode = failed === 0 ? 0 : 1;
