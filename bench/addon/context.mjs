// What request-context tracking adds to a start/end range, side by side in one process (addon loaded, no
// tool): tracking off, tracking on outside any request (one AsyncLocalStorage lookup), and inside a
// request (the range records its parent: an attributes object and the *Ex call).
//   node bench/addon/context.mjs
import { loadVariants } from './variants.mjs';

const { native } = await loadVariants();
const d = native.domain('bench context');
const h = d.registerString('range');
const N = 200_000;

/** Best of 7 runs of N calls, ns per call. */
function nsPerCall(fn) {
  for (let i = 0; i < N; i++) fn();
  let best = Infinity;
  for (let run = 0; run < 7; run++) {
    const from = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - from) / N);
  }
  return best;
}

const startEnd = () => d.start(h).end();
const off = nsPerCall(startEnd);
native.instrumentHttp({ server: false, client: false, fetch: false }); // turns tracking on
const outside = nsPerCall(startEnd);
let inside = 0;
await d.trace('request', () => {
  inside = nsPerCall(startEnd);
});
const lines = [
  `start+end, Node ${process.version}, ns per call (best of 7 × ${N}):`,
  `  ${off.toFixed(1).padStart(7)}  context tracking off`,
  `  ${outside.toFixed(1).padStart(7)}  tracking on, outside any request   (${(outside / off).toFixed(2)}× off)`,
  `  ${inside.toFixed(1).padStart(7)}  inside a request (records parent)   (${(inside / off).toFixed(2)}× off)`,
];
process.stdout.write(lines.join('\n') + '\n');
