#!/usr/bin/env node
// The soak's Node service with Python workers: the mixed example's service (examples/mixed), loaded for
// --seconds by --concurrency closed-loop lanes of /predict, /report and /ingest (with no stalls of
// their own), and, unless --no-stalls, one /stall request (a --stall-ms C call that holds a worker's
// GIL) at random gaps of --gap-min to --gap-max seconds. Prints `requests <n> seconds <wall>` at the
// end; exit 1 if a request failed. The stalls' times are in the workers' --served-log (kind "stall",
// CLOCK_MONOTONIC start and end in ns).
//
//   node bench/recorder/mixed-service.mjs --python PATH [--seconds 20] [--concurrency 4] [--workers 2]
//        [--stall-ms 150] [--gap-min 3.5] [--gap-max 6] [--no-stalls] [--served-log FILE]
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { PATHS, get } from '../../examples/mixed/load.mjs';
import { startService } from '../../examples/mixed/service.mjs';

const { values } = parseArgs({
  options: {
    python: { type: 'string' },
    seconds: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '4' },
    workers: { type: 'string', default: '2' },
    'stall-ms': { type: 'string', default: '150' },
    'gap-min': { type: 'string', default: '3.5' },
    'gap-max': { type: 'string', default: '6' },
    'no-stalls': { type: 'boolean', default: false },
    'served-log': { type: 'string' },
  },
});
const num = (name) => {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v <= 0) {
    console.error(`mixed-service: --${name} must be a positive number`);
    process.exit(2);
  }
  return v;
};
if (!values.python) {
  console.error('mixed-service: --python PATH is required (a patched CPython with the gil_nvtx module)');
  process.exit(2);
}
const seconds = num('seconds');
const [concurrency, workers, stallMs, gapMin, gapMax] = ['concurrency', 'workers', 'stall-ms', 'gap-min', 'gap-max'].map(num);

const service = await startService({ python: values.python, workers, servedLog: values['served-log'], stallEvery: 0, stallMs });
const started = performance.now();
const end = Date.now() + seconds * 1000;
let served = 0;
let failed = 0;
const count = (r) => (r.status === 200 ? served++ : failed++);

async function lane(k) {
  for (let i = k; Date.now() < end; i++) count(await get(service.url + PATHS[i % PATHS.length]));
}

// A stall only when its window (the soak's --before/--after) ends before the run does.
async function stalls() {
  for (;;) {
    const gap = (gapMin + Math.random() * (gapMax - gapMin)) * 1000;
    if (Date.now() + gap + stallMs + 1000 > end) return;
    await sleep(gap);
    count(await get(service.url + '/stall'));
  }
}

try {
  await Promise.all([...Array.from({ length: concurrency }, (_, k) => lane(k)), ...(values['no-stalls'] ? [] : [stalls()])]);
} finally {
  await service.close();
}
console.log(`requests ${served} seconds ${((performance.now() - started) / 1000).toFixed(3)} failed ${failed}`);
process.exitCode = failed === 0 ? 0 : 1;
