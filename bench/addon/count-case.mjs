// One benchmark case run N times, for callgrind instruction counts (callgrind.mjs runs it under valgrind).
//   node bench/addon/count-case.mjs <case> <iterations>
import { CASES, makeCases } from './cases.mjs';
import { loadVariants } from './variants.mjs';

const [name, countArg] = process.argv.slice(2);
const n = Number(countArg);
const fn = makeCases(await loadVariants())[name];
if (!fn) throw new Error(`unknown case ${name}; one of ${Object.keys(CASES).join(', ')}`);
// Same warm-up whatever n is, so (Ir(n) − Ir(0)) / n is the steady-state cost of one iteration.
for (let i = 0; i < 20_000; i++) fn();
for (let i = 0; i < n; i++) fn();
