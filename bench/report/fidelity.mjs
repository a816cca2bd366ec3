// Our GIL ranges against nsys's own, on one run: each patched interpreter runs each workload under an
// nsys that takes --trace=python-gil, with `nvtx` on as well, so the trace holds both sources; then
// `compareGilSources` matches them per thread. Prints a Markdown table (docs/fidelity.md has one).
// Usage: npm run build:ts && node bench/report/fidelity.mjs [--python PATH]... [--tolerance-us N] [--json]
// Without --python: every non-free-threaded interpreter under ~/.cache/gil-nvtx/test-pythons whose build
// stamp names the current patch of its minor.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { discoverNsys } from '../../dist/nsys/discover.js';
import { nsysProfile } from '../../dist/nsys/run.js';
import { cacheRoot } from '../../dist/cache.js';
import { compareGilSources } from '../../dist/report/compare-sources.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values } = parseArgs({ options: { python: { type: 'string', multiple: true }, 'tolerance-us': { type: 'string' }, json: { type: 'boolean' } } });
const toleranceNs = Number(values['tolerance-us'] ?? 1000) * 1000;

const WORKLOADS = [
  { name: '200 ms hold', args: (dir) => [join(root, 'test-support/programs/usleep_hold.py'), join(dir, 'threads.txt')] },
  { name: 'hand-off', args: () => [join(root, 'examples/workloads/gil_handoff.py'), '--threads', '4', '--iters', '3000'] },
  { name: 'stall', args: () => [join(root, 'examples/workloads/gil_stall.py'), '--seconds', '0.6'] },
];

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function currentPatchedPythons() {
  const dir = join(cacheRoot(), 'test-pythons');
  const found = [];
  for (const entry of existsSync(dir) ? readdirSync(dir).sort() : []) {
    const stampFile = join(dir, entry, 'gil-nvtx-build.json');
    if (entry.endsWith('.lock') || existsSync(join(dir, `${entry}.lock`)) || !existsSync(stampFile)) continue;
    const stamp = JSON.parse(readFileSync(stampFile, 'utf8'));
    if (stamp.disableGil) continue;
    const minor = stamp.version.split('.').slice(0, 2).join('.');
    const patch = join(root, 'patches', `cpython-${minor}.patch`);
    if (!existsSync(patch) || sha256(patch) !== stamp.patchSha256) continue;
    found.push({ version: stamp.version, python: join(dir, entry, stamp.python) });
  }
  return found;
}

const nsys = (await discoverNsys()).find((p) => p.pythonGil);
if (!nsys) {
  process.stderr.write('fidelity: no nsys with --trace=python-gil found (scripts/ci/install-nsys-2024.sh installs 2024.2)\n');
  process.exit(1);
}
const pythons = values.python ? values.python.map((p) => ({ version: p, python: p })) : currentPatchedPythons();
if (pythons.length === 0) {
  process.stderr.write('fidelity: no patched interpreter found; pass --python PATH or build one (gil-nvtx build-python)\n');
  process.exit(1);
}

const us = (ns) => (ns === undefined || ns === null ? '—' : `${(ns / 1000).toFixed(ns < 10_000 ? 2 : 1)}`);
const rows = [];
for (const p of pythons) {
  for (const w of WORKLOADS) {
    const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-fidelity-'));
    process.stderr.write(`${p.version} ${w.name}…\n`);
    const run = await nsysProfile([p.python, '-u', ...w.args(dir)], {
      output: join(dir, 'run'),
      trace: ['python-gil', 'nvtx', 'osrt'],
      timeoutSec: 300,
      cwd: dir,
      env: { ...process.env, GIL_NVTX_NSYS: nsys.path },
    });
    const c = await compareGilSources(run.sqlite, { toleranceNs });
    rows.push({ version: p.version, workload: w.name, comparison: c });
  }
}

if (values.json) {
  process.stdout.write(`${JSON.stringify({ nsys: { path: nsys.path, version: nsys.version }, toleranceNs, rows }, null, 2)}\n`);
} else {
  process.stdout.write(`nsys ${nsys.version}, tolerance ${toleranceNs / 1000} µs; Δ = nsys − ours (median, p99 of |Δ|), µs\n\n`);
  process.stdout.write('| CPython | workload | holds ours / nsys / matched | ours only (overlapping an nsys-only hold) / nsys only | hold Δstart | hold Δend | waits ours / nsys / matched | our waits nsys has not: count (overlapping an nsys-only wait), p50 / p99 / max µs | longest hold in both | overlaps ours / nsys |\n');
  process.stdout.write('|---|---|---|---|---|---|---|---|---|---|\n');
  for (const { version, workload, comparison: c } of rows) {
    const h = c.holds;
    const wt = c.waits;
    const left = wt.oursOnlyDurations;
    const longest = c.longestHold ? `${c.longestHold.matched ? 'yes' : 'NO'}, ${((c.longestHold.patch.end - c.longestHold.patch.start) / 1e6).toFixed(1)} ms` : '—';
    process.stdout.write(
      `| ${version} | ${workload} | ${h.ours} / ${h.theirs} / ${h.matched} | ${h.oursOnly} (${h.oursOnlyOverlapping}) / ${h.theirsOnly} | ` +
        `${us(h.start?.medianNs)}, ${us(h.start?.p99AbsNs)} | ${us(h.end?.medianNs)}, ${us(h.end?.p99AbsNs)} | ` +
        `${wt.ours} / ${wt.theirs} / ${wt.matched} | ${left ? `${left.count} (${wt.oursOnlyOverlapping}), ${us(left.p50Ns)} / ${us(left.p99Ns)} / ${us(left.maxNs)}` : '—'} | ${longest} | ${c.overlaps.patch} / ${c.overlaps.nsys} |\n`,
    );
  }
  process.stdout.write('\nmatched holds / waits by tolerance (µs):\n\n');
  const ladder = rows[0].comparison.ladder.map((l) => l.toleranceNs / 1000);
  process.stdout.write(`| CPython | workload | ${ladder.join(' | ')} |\n|---|---|${ladder.map(() => '---').join('|')}|\n`);
  for (const { version, workload, comparison: c } of rows) {
    process.stdout.write(`| ${version} | ${workload} | ${c.ladder.map((l) => `${l.holds} / ${l.waits}`).join(' | ')} |\n`);
  }
}
