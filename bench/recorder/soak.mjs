#!/usr/bin/env node
// The flight recorder's soak: a hand-off-heavy patched CPython service (stall_workload.py) with GIL
// stalls injected at random times, recorded by `gil-nvtx record` for --seconds (default 600). Prints
// disk and RSS over time, checks that every injected stall is in exactly one dump, and (unless
// --no-overhead) measures the service's hand-off rate with no tool and under the recorder, rounds
// interleaved in one run.
//
//   node bench/recorder/soak.mjs [--seconds 600] [--python PATH] [--max-disk 256M] [--no-overhead]
//                                [--overhead-rounds 3] [--overhead-seconds 5] [--batch 100] [--pause-ms 2] [--json FILE]
// Exit 1 when a check fails. Needs the build (npm run build) and a patched 3.11 (GIL_NVTX_PYTHON or
// the test interpreters' cache).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { parseSizeBytes } from '../../dist/units.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'gil-nvtx.js');
const WORKLOAD = join(ROOT, 'bench', 'recorder', 'stall_workload.py');

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    python: { type: 'string' },
    'max-disk': { type: 'string', default: '256M' },
    'no-overhead': { type: 'boolean', default: false },
    'overhead-rounds': { type: 'string', default: '3' },
    'overhead-seconds': { type: 'string', default: '5' },
    json: { type: 'string' },
    // The workers' pace: BATCH hand-offs, then a PAUSE-ms sleep (0: flat out).
    batch: { type: 'string', default: '100' },
    'pause-ms': { type: 'string', default: '2' },
  },
});
const seconds = Number(values.seconds);
const STALL_MS = 150;
// Stalls further apart than a dump's window (--before + --after + the stall), so each has its own.
const RECORD = ['--window', '4s', '--before', '2s', '--after', '1s', '--trigger-hold-ms', '100', '--max-dumps', '1000', '--max-disk', values['max-disk']];
const LOAD = ['--threads', '2', '--batch', values.batch, '--pause-ms', values['pause-ms'], '--stall-ms', String(STALL_MS), '--gap-min', '3.5', '--gap-max', '6'];

function findPython() {
  if (values.python) return values.python;
  if (process.env.GIL_NVTX_PYTHON) return process.env.GIL_NVTX_PYTHON;
  const cache = join(process.env.HOME ?? '/root', '.cache', 'gil-nvtx', 'test-pythons');
  const dir = existsSync(cache) ? readdirSync(cache).find((d) => d.startsWith('3.11.')) : undefined;
  if (!dir) {
    console.error('soak: no patched CPython 3.11: pass --python PATH (gil-nvtx build-python builds one)');
    process.exit(2);
  }
  return join(cache, dir, 'bin', 'python3');
}
const python = findPython();

/** Bytes allocated under `path` (ring files are allocated whole, so this is what they take). */
function diskBytes(path) {
  let total = 0;
  let entries = [];
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(path, e.name);
    try {
      total += e.isDirectory() ? diskBytes(p) : statSync(p).blocks * 512;
    } catch {
      /* removed meanwhile (a pruned dump) */
    }
  }
  return total;
}

/** Resident set (kB) of `pid` and all its descendants, by name. */
function treeRss(pid) {
  const children = new Map();
  const info = new Map();
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      const rss = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const name = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?';
      info.set(Number(p), { rss, name });
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(p));
    } catch {
      /* gone */
    }
  }
  const out = {};
  const walk = (p) => {
    const i = info.get(p);
    if (i) out[i.name] = (out[i.name] ?? 0) + i.rss;
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** Long holds (≥ the stall) in a dump's trace: [start, end] ns. */
function dumpHolds(dumpDir) {
  const db = new Database(join(dumpDir, 'trace.sqlite'), { readonly: true });
  try {
    return db
      .prepare("SELECT e.start, e.end FROM NVTX_EVENTS e JOIN StringIds s ON s.id = e.textId WHERE s.value = 'Holding GIL' AND e.end - e.start >= ?")
      .all((STALL_MS - 5) * 1e6);
  } finally {
    db.close();
  }
}

/** The workload alone or under the recorder; resolves with its cycle count and wall seconds. */
function runWorkload(args, recordDir) {
  const argv = recordDir ? [CLI, 'record', '-q', '-o', recordDir, ...RECORD, '--', python, '-u', WORKLOAD, ...args] : null;
  const child = argv ? spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(python, ['-u', WORKLOAD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = [];
  let rest = '';
  child.stdout.on('data', (b) => {
    const l = (rest + b.toString()).split('\n');
    rest = l.pop() ?? '';
    lines.push(...l);
  });
  const done = new Promise((res) => child.on('close', (code) => res(code)));
  return { child, lines, done };
}

const result = { seconds, samples: [], stalls: [], dumps: [], overhead: null, checks: {} };

// Overhead: hand-offs per second with no tool and under the recorder (no stalls), interleaved.
if (!values['no-overhead']) {
  const rounds = Number(values['overhead-rounds']);
  const secs = values['overhead-seconds'];
  const rate = { none: [], record: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of ['none', 'record']) {
      const dir = mode === 'record' ? mkdtempSync(join(tmpdir(), 'gil-nvtx-soak-oh-')) : null;
      const w = runWorkload([...LOAD, '--no-stalls', '--seconds', secs], dir);
      await w.done;
      const m = /^cycles (\d+) seconds ([\d.]+)/.exec(w.lines.find((l) => l.startsWith('cycles')) ?? '');
      if (m) rate[mode].push(Number(m[1]) / Number(m[2]));
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  result.overhead = { noToolCyclesPerS: median(rate.none), recordCyclesPerS: median(rate.record), ratio: median(rate.none) / median(rate.record), rounds, secondsEach: Number(secs) };
  console.log(`overhead (${rounds} rounds of ${secs} s, interleaved, median): no tool ${Math.round(result.overhead.noToolCyclesPerS)} hand-offs/s, recorder ${Math.round(result.overhead.recordCyclesPerS)}/s: wall ×${result.overhead.ratio.toFixed(3)}`);
}

// The soak.
const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-soak-'));
const w = runWorkload([...LOAD, '--seconds', String(seconds)], dir);
const seen = new Map(); // dump folder -> long holds
const t0 = Date.now();
console.log('   t s   disk MiB   RSS MiB (recorder + watchdog + service)   dumps');
const sampler = setInterval(() => {
  for (const d of readdirSync(dir).filter((n) => /^dump-\d+-/.test(n) && !seen.has(n))) {
    try {
      seen.set(d, dumpHolds(join(dir, d)));
    } catch {
      /* pruned before it could be read */
    }
  }
  const rss = treeRss(w.child.pid);
  const totalKb = Object.values(rss).reduce((a, b) => a + b, 0);
  const sample = { t: (Date.now() - t0) / 1000, diskBytes: diskBytes(dir), rssKb: totalKb, rss, dumps: seen.size };
  result.samples.push(sample);
  if (result.samples.length % Math.max(1, Math.round(seconds / 40)) === 1 || seconds <= 60) {
    console.log(`${sample.t.toFixed(0).padStart(6)} ${(sample.diskBytes / 2 ** 20).toFixed(1).padStart(10)} ${(totalKb / 1024).toFixed(1).padStart(9)}   ${JSON.stringify(Object.fromEntries(Object.entries(rss).map(([k, v]) => [k, Math.round(v / 1024)])))}   ${seen.size}`);
  }
}, 1000);
const code = await w.done;
clearInterval(sampler);
for (const d of readdirSync(dir).filter((n) => /^dump-\d+-/.test(n) && !seen.has(n))) seen.set(d, dumpHolds(join(dir, d)));

// Every injected stall in exactly one dump: a hold covering its C call.
for (const l of w.lines.filter((x) => x.startsWith('stall '))) {
  const [, a, b] = l.split(' ').map(Number);
  // The hold that began before the C call and lasted through it (the waiters' drop request makes the
  // holder switch right after the call returns, before the workload reads the clock again).
  const inDumps = [...seen].filter(([, holds]) => holds.some((h) => h.start <= a && h.end >= a + (STALL_MS - 1) * 1e6)).map(([d]) => d);
  result.stalls.push({ start: a, end: b, dumps: inDumps });
}
result.dumps = [...seen.keys()];
const ok = (name, pass, detail) => {
  result.checks[name] = { pass, detail };
  console.log(`${pass ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  return pass;
};
const half = result.samples.slice(Math.floor(result.samples.length / 2));
const maxDisk = Math.max(...result.samples.map((s) => s.diskBytes));
const maxRss = Math.max(...result.samples.map((s) => s.rssKb));
// The service's resident set must stay flat (its ring is mapped once); the recorder's peaks while it
// merges a dump, bounded by RECORDER_RSS_MAX.
const RECORDER_RSS_MAX_KB = 400 * 1024;
// The service is every process of the tree but the recorder (node) and the watchdog.
const serviceRss = (s) => Object.entries(s.rss).reduce((sum, [name, kb]) => (name === 'node' || name.startsWith('gil_nvtx_watch') ? sum : sum + kb), 0);
const live = result.samples.filter((s) => serviceRss(s) > 0); // the service's last moments are not sampled
const liveHalf = live.slice(Math.floor(live.length / 2));
const firstHalfRss = Math.max(...live.slice(0, Math.max(1, Math.floor(live.length / 2))).map(serviceRss));
const recorderRss = Math.max(...result.samples.map((s) => (s.rss.node ?? 0) + (s.rss.gil_nvtx_watchd ?? 0)));
let pass = ok('service exit', code === 0, `exit code ${code}`);
pass = ok('stalls', result.stalls.length > 0 && result.stalls.every((s) => s.dumps.length === 1), `${result.stalls.length} injected, in exactly one dump: ${result.stalls.filter((s) => s.dumps.length === 1).length}`) && pass;
pass = ok('disk', maxDisk <= parseSizeBytes(values['max-disk']), `max ${(maxDisk / 2 ** 20).toFixed(1)} MiB of --max-disk ${values['max-disk']}; second half ${(Math.min(...half.map((s) => s.diskBytes)) / 2 ** 20).toFixed(1)}-${(Math.max(...half.map((s) => s.diskBytes)) / 2 ** 20).toFixed(1)} MiB`) && pass;
pass = ok('rss', live.length > 0 && Math.max(...liveHalf.map(serviceRss)) <= firstHalfRss * 1.1 + 4096 && recorderRss <= RECORDER_RSS_MAX_KB,
  `service second half max ${(Math.max(...liveHalf.map(serviceRss)) / 1024).toFixed(1)} MiB vs first half ${(firstHalfRss / 1024).toFixed(1)} MiB; recorder + watchdog max ${(recorderRss / 1024).toFixed(1)} MiB (bound ${RECORDER_RSS_MAX_KB / 1024}); all ${(maxRss / 1024).toFixed(1)} MiB`) && pass;
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
if (!process.env.SOAK_KEEP) rmSync(dir, { recursive: true, force: true });
else console.log('kept', dir);
process.exit(pass ? 0 : 1);

