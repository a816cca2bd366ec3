#!/usr/bin/env node
// Which GIL tracer costs what, side by side in one run, rounds interleaved: the choice a user makes
// between nsys's own GIL tracer on a stock CPython and the gil-nvtx patch under nsys or the collector.
//   unpatched, no tool                  the baseline
//   unpatched, nsys 2024.2 python-gil   nsys traces the GIL itself (no patch)
//   patched, no tool                    the patch's own cost with no tool attached
//   patched, nsys 2024.2 nvtx           the patch's ranges recorded by nsys
//   patched, nsys 2022.4 nvtx           the same with Debian's nsys, when there is one
//   patched, collector                  the patch's ranges recorded by the embedded collector (+ watchdog)
// on bench/collector/gil_workload.py: a GIL hand-off on every os.read in 1 and 2 threads, and two
// CPU-bound threads. Each run measures its own work (wall, process CPU, voluntary context switches),
// so no tool's start-up or export is counted.
//
//   npm run build:ts && node bench/tracers/run.mjs [--version 3.11.2 | --patched P --unpatched U] [--rounds 5]
//
// The patched/unpatched pair is built once (same version and flags) into ~/.cache/gil-nvtx/bench/pythons/.
// Every nsys run goes through scripts/nsys-locked.sh (one nsys at a time on the machine).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { discoverNsys } from '../../dist/nsys/discover.js';
import { findOrBuildCollector, watchdogFor } from '../../dist/trace/collector-path.js';
import { sideBySide } from '../lib/gil-runs.mjs';
import { pythonPair } from '../lib/python-pair.mjs';

const { values } = parseArgs({
  options: {
    patched: { type: 'string' },
    unpatched: { type: 'string' },
    version: { type: 'string' },
    rounds: { type: 'string', default: '5' },
  },
});
if (Boolean(values.patched) !== Boolean(values.unpatched) || (values.patched && values.version)) {
  process.stderr.write('usage: node bench/tracers/run.mjs [--version V | --patched <python> --unpatched <python>] [--rounds N]\n');
  process.exit(2);
}
const { patched, unpatched } = values.patched ? values : await pythonPair(values.version);
const probes = await discoverNsys();
const newer = probes.find((p) => p.pythonGil);
const older = probes.find((p) => p.version && !p.pythonGil);
if (!newer) {
  process.stderr.write('tracers: no nsys with --trace=python-gil (scripts/ci/install-nsys-2024.sh installs 2024.2)\n');
  process.exit(1);
}
const collector = findOrBuildCollector();
const work = mkdtempSync(join(tmpdir(), 'gil-nvtx-bench-tracers-'));
const nsysName = (p) => `nsys ${p.version.split('.').slice(0, 2).join('.')}`;
const VARIANTS = [
  { name: 'unpatched, no tool', python: unpatched, tool: 'none' },
  { name: `unpatched, ${nsysName(newer)} python-gil`, python: unpatched, tool: 'nsys', nsys: newer.path, trace: 'python-gil' },
  { name: 'patched, no tool', python: patched, tool: 'none' },
  { name: `patched, ${nsysName(newer)} nvtx`, python: patched, tool: 'nsys', nsys: newer.path, trace: 'nvtx' },
  ...(older ? [{ name: `patched, ${nsysName(older)} nvtx`, python: patched, tool: 'nsys', nsys: older.path, trace: 'nvtx' }] : []),
  { name: 'patched, collector', python: patched, tool: 'collector', collector, watchdog: watchdogFor(collector), rawDir: join(work, 'raw') },
];
const { table } = await sideBySide({
  variants: VARIANTS,
  baseline: 'unpatched, no tool',
  rounds: Number(values.rounds),
  work,
  title: `GIL tracers on ${patched} (patched) and ${unpatched} (unpatched); ${newer.path} ${newer.version}${older ? `, ${older.path} ${older.version}` : ''}`,
});
console.log(table);
rmSync(work, { recursive: true, force: true });
