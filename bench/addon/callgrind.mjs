// Instruction counts per iteration, (Ir(N) − Ir(0)) / N under callgrind: deterministic where wall-clock
// times on a shared 2-core machine are not (they vary 2–3× between runs).
//   node bench/addon/callgrind.mjs [N] [case ...]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CASES } from './cases.mjs';

const [nArg, ...picked] = process.argv.slice(2);
const n = Number(nArg ?? 500_000);
const names = picked.length > 0 ? picked : ['native1', 'native2', 'apiPair', 'rawArgPair', 'apiStartEnd', 'noopPair'];
const script = fileURLToPath(new URL('./count-case.mjs', import.meta.url));

function instructions(name, count) {
  const r = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, script, name, String(count)], { encoding: 'utf8' });
  const m = /Collected : (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`callgrind failed for ${name}:\n${r.stderr.slice(-2000)}`);
  return Number(m[1]);
}

const perIteration = {};
for (const name of names) {
  perIteration[name] = (instructions(name, n) - instructions(name, 0)) / n;
  process.stdout.write(`${perIteration[name].toFixed(0).padStart(8)} instr  ${CASES[name]}\n`);
}
if (perIteration.apiPair !== undefined && perIteration.native2 !== undefined) {
  process.stdout.write(`push+pop pair / (2 × empty native call): ${(perIteration.apiPair / perIteration.native2).toFixed(2)} (instructions)\n`);
}
