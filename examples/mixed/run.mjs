#!/usr/bin/env node
// One self-contained run of the mixed example, suitable for `gil-nvtx profile -- node examples/mixed/run.mjs`:
// start the service, send a bounded load, print the slowest requests, shut everything down.
import { parseArgs } from 'node:util';
import { startService } from './service.mjs';
import { runLoad } from './load.mjs';

const { values } = parseArgs({
  options: {
    python: { type: 'string', default: process.env.GIL_NVTX_PYTHON ?? 'python3' },
    requests: { type: 'string', default: '40' },
    concurrency: { type: 'string', default: '4' },
    workers: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    // Each worker appends one JSON line per job it ran (correlation id, pid, thread id, CLOCK_MONOTONIC
    // start and end in ns), for checking the report's "served by" against what really happened.
    'served-log': { type: 'string' },
  },
});
const count = Number(values.requests);
const concurrency = Number(values.concurrency);
const workers = Number(values.workers);
for (const [name, v] of Object.entries({ requests: count, concurrency, workers })) {
  if (!Number.isInteger(v) || v < 1) {
    console.error(`run.mjs: --${name} must be a positive integer`);
    process.exit(2);
  }
}

const service = await startService({ python: values.python, workers, servedLog: values['served-log'] });
let results;
try {
  results = await runLoad(service.url, { count, concurrency });
} finally {
  await service.close();
}
const failed = results.filter((r) => r.status !== 200);
const slowest = [...results].sort((a, b) => b.ms - a.ms).slice(0, 5);
if (values.json) {
  process.stdout.write(JSON.stringify({ requests: results.length, failed: failed.length, slowest }) + '\n');
} else {
  console.log(`${results.length} requests, ${failed.length} failed`);
  for (const r of slowest) console.log(`  ${r.ms.toFixed(1).padStart(8)} ms  ${r.url.replace(/^http:\/\/[^/]+/, '')}`);
}
process.exitCode = failed.length === 0 ? 0 : 1;
