#!/usr/bin/env node
// The flight recorder's soak: a service with GIL stalls injected at random times, recorded by
// `gil-nvtx record` for --seconds (default 600). Prints disk and RSS over time, checks that every
// injected stall is in exactly one dump, and (unless --no-overhead) measures the service's rate with no
// tool and under the recorder, rounds interleaved in one run. Two services (--service):
//   handoff  a hand-off-heavy patched CPython (stall_workload.py); its rate is GIL hand-offs a second
//   mixed    a Node HTTP service with Python worker processes (mixed-service.mjs, the mixed example
//            under a closed-loop load); its rate is requests a second
//
//   node bench/recorder/soak.mjs [--service handoff|mixed] [--seconds 600] [--python PATH] [--max-disk 256M]
//        [--no-overhead] [--overhead-rounds 3] [--overhead-seconds 5] [--batch 100] [--pause-ms 2]
//        [--concurrency 4] [--json FILE]
// Exit 1 when a check fails. Needs the build (npm run build) and a patched 3.11 (GIL_NVTX_PYTHON or
// the test interpreters' cache).
import { spawn } from 'node:child_process';
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
const MIXED = join(ROOT, 'bench', 'recorder', 'mixed-service.mjs');

const { values } = parseArgs({
  options: {
    service: { type: 'string', default: 'handoff' },
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
    // The mixed service's closed-loop lanes.
    concurrency: { type: 'string', default: '4' },
  },
});
if (!['handoff', 'mixed'].includes(values.service)) {
  console.error(`soak: --service must be handoff or mixed, not ${values.service}`);
  process.exit(2);
}
const seconds = Number(values.seconds);
const STALL_MS = 150;
// Stalls further apart than a dump's window (--before + --after + the stall), so each has its own.
const RECORD = ['--window', '4s', '--before', '2s', '--after', '1s', '--trigger-hold-ms', '100', '--max-dumps', '1000', '--max-disk', values['max-disk']];
const GAPS = ['--stall-ms', String(STALL_MS), '--gap-min', '3.5', '--gap-max', '6'];

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

/**
 * Resident set (kB) of the tree under `pid`, by role: `recorder` (pid itself), `watchdog`, and
 * `service` (every other process: the traced program and its children), with the service's by name
 * and its anonymous part (`serviceAnon`): the rest is file pages, mostly the rings, which a process
 * touches as it fills its ring (slowly, at a service's pace) and which stop at the ring's size.
 */
function treeRss(pid) {
  const children = new Map();
  const info = new Map();
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      const rss = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const anon = Number(/^RssAnon:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const name = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?';
      info.set(Number(p), { rss, anon, name });
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(p));
    } catch {
      /* gone */
    }
  }
  const out = { recorder: 0, watchdog: 0, service: 0, serviceAnon: 0, serviceByName: {} };
  const walk = (p) => {
    const i = info.get(p);
    if (i && p === pid) out.recorder += i.rss;
    else if (i && i.name.startsWith('gil_nvtx_watch')) out.watchdog += i.rss;
    else if (i) {
      out.service += i.rss;
      out.serviceAnon += i.anon;
      out.serviceByName[i.name] = (out.serviceByName[i.name] ?? 0) + i.rss;
    }
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/**
 * A dump's long holds (≥ the stall, less a margin) and its Node ranges of /stall requests (the mixed
 * service's HTTP server): [start, end] ns.
 */
function dumpRanges(dumpDir) {
  const db = new Database(join(dumpDir, 'trace.sqlite'), { readonly: true });
  try {
    const named = (where) => `SELECT e.start, e.end FROM NVTX_EVENTS e LEFT JOIN StringIds s ON s.id = e.textId WHERE ${where}`;
    return {
      holds: db.prepare(named("s.value = 'Holding GIL' AND e.end - e.start >= ?")).all((STALL_MS - 5) * 1e6),
      requests: db.prepare(named("coalesce(e.text, s.value) = 'GET /stall' AND e.end IS NOT NULL")).all(),
    };
  } finally {
    db.close();
  }
}

/**
 * The services: each gives its command line (stalls or not, for S seconds), how to read its rate
 * from its stdout, and the stalls it injected ([start, end] CLOCK_MONOTONIC ns).
 */
const SERVICES = {
  handoff: {
    unit: 'hand-offs',
    argv: ({ stalls, secs }) => [python, '-u', WORKLOAD, '--threads', '2', '--batch', values.batch, '--pause-ms', values['pause-ms'], ...GAPS, ...(stalls ? [] : ['--no-stalls']), '--seconds', String(secs)],
    rate: (lines) => lineRate(lines, /^cycles (\d+) seconds ([\d.]+)/),
    stalls: (lines) => lines.filter((x) => x.startsWith('stall ')).map((l) => l.split(' ').slice(1, 3).map(Number)),
    withRequest: false,
    // Anonymous memory the second half may add over the first's peak: allocator slack.
    anonSlackKb: 4096,
  },
  mixed: {
    unit: 'requests',
    argv: ({ stalls, secs, servedLog }) => [process.execPath, MIXED, '--python', python, '--concurrency', values.concurrency, ...GAPS, ...(stalls ? [] : ['--no-stalls']), '--seconds', String(secs), ...(servedLog ? ['--served-log', servedLog] : [])],
    rate: (lines) => lineRate(lines, /^requests (\d+) seconds ([\d.]+)/),
    stalls: (_lines, servedLog) =>
      readFileSync(servedLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
        .filter((j) => j.kind === 'stall')
        .map((j) => [j.start, j.end]),
    // The dump must also hold the Node side: the /stall request's range, across the stall.
    withRequest: true,
    // A Node process's heap swings by tens of MiB between major collections (42-76 MiB over the
    // 10-minute run, either half): a leak of 1 KiB per request grows past this in five minutes.
    anonSlackKb: 24 * 1024,
  },
};
const service = SERVICES[values.service];

function lineRate(lines, re) {
  const m = re.exec(lines.find((l) => re.test(l)) ?? '');
  return m ? Number(m[1]) / Number(m[2]) : undefined;
}

/** The service alone or under the recorder; `done` resolves with its exit code. */
function runService(opts, recordDir) {
  const argv = service.argv(opts);
  const child = recordDir
    ? spawn(process.execPath, [CLI, 'record', '-q', '-o', recordDir, ...RECORD, '--', ...argv], { stdio: ['ignore', 'pipe', 'inherit'] })
    : spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
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

const result = { service: values.service, seconds, samples: [], stalls: [], dumps: [], overhead: null, checks: {} };

// Overhead: the service's rate with no tool and under the recorder (no stalls), interleaved.
if (!values['no-overhead']) {
  const rounds = Number(values['overhead-rounds']);
  const secs = values['overhead-seconds'];
  const rate = { none: [], record: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of ['none', 'record']) {
      const dir = mode === 'record' ? mkdtempSync(join(tmpdir(), 'gil-nvtx-soak-oh-')) : null;
      const w = runService({ stalls: false, secs }, dir);
      await w.done;
      const v = service.rate(w.lines);
      if (v !== undefined) rate[mode].push(v);
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  result.overhead = { unit: service.unit, noToolPerS: median(rate.none), recordPerS: median(rate.record), ratio: median(rate.none) / median(rate.record), rounds, secondsEach: Number(secs), perRound: rate };
  console.log(`overhead (${rounds} rounds of ${secs} s, interleaved, median): no tool ${Math.round(result.overhead.noToolPerS)} ${service.unit}/s, recorder ${Math.round(result.overhead.recordPerS)}/s: wall ×${result.overhead.ratio.toFixed(3)}`);
}

// The soak. The mixed service's workers log every job outside the recorded folder (it is not the
// recorder's disk).
const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-soak-'));
const logDir = mkdtempSync(join(tmpdir(), 'gil-nvtx-soak-log-'));
const servedLog = join(logDir, 'served.jsonl');
const w = runService({ stalls: true, secs: seconds, servedLog }, dir);
const seen = new Map(); // dump folder -> its long holds and /stall requests
const t0 = Date.now();
console.log('   t s   disk MiB   RSS MiB: recorder  watchdog  service (anonymous)   dumps');
const mib = (kb) => (kb / 1024).toFixed(1);
const sampler = setInterval(() => {
  for (const d of readdirSync(dir).filter((n) => /^dump-\d+-/.test(n) && !seen.has(n))) {
    try {
      seen.set(d, dumpRanges(join(dir, d)));
    } catch {
      /* pruned before it could be read */
    }
  }
  const rss = treeRss(w.child.pid);
  const sample = { t: (Date.now() - t0) / 1000, diskBytes: diskBytes(dir), rss, dumps: seen.size };
  result.samples.push(sample);
  if (result.samples.length % Math.max(1, Math.round(seconds / 40)) === 1 || seconds <= 60) {
    const byName = Object.entries(rss.serviceByName).map(([k, v]) => `${k} ${mib(v)}`).join(', ');
    console.log(`${sample.t.toFixed(0).padStart(6)} ${(sample.diskBytes / 2 ** 20).toFixed(1).padStart(10)} ${mib(rss.recorder).padStart(17)} ${mib(rss.watchdog).padStart(9)} ${mib(rss.service).padStart(8)} ${`(${mib(rss.serviceAnon)})`.padStart(11)}   ${seen.size}   (${byName})`);
  }
}, 1000);
const code = await w.done;
clearInterval(sampler);
for (const d of readdirSync(dir).filter((n) => /^dump-\d+-/.test(n) && !seen.has(n))) seen.set(d, dumpRanges(join(dir, d)));

// Every injected stall in exactly one dump: a long hold overlapping its C call (the hold that began
// before the call and lasted through it; a GIL switch just before the call may make it begin after
// the stall's logged start).
for (const [a, b] of service.stalls(w.lines, servedLog)) {
  const inDumps = [...seen].filter(([, r]) => r.holds.some((h) => h.start <= b && h.end >= a)).map(([d]) => d);
  const withRequest = inDumps.filter((d) => seen.get(d).requests.some((q) => q.start <= a && q.end >= b));
  result.stalls.push({ start: a, end: b, dumps: inDumps, dumpsWithRequest: withRequest });
}
result.dumps = [...seen.keys()];
const ok = (name, pass, detail) => {
  result.checks[name] = { pass, detail };
  console.log(`${pass ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  return pass;
};
const half = result.samples.slice(Math.floor(result.samples.length / 2));
const maxDisk = Math.max(...result.samples.map((s) => s.diskBytes));
// The service's anonymous memory must stay flat (its ring is a file, mapped once: its pages come and
// stay as the ring fills, up to the ring's size); the recorder's peaks while it merges a dump, bounded
// by RECORDER_RSS_MAX.
const RECORDER_RSS_MAX_KB = 400 * 1024;
const live = result.samples.filter((s) => s.rss.service > 0); // the service's last moments are not sampled
const liveHalf = live.slice(Math.floor(live.length / 2));
const firstHalf = live.slice(0, Math.max(1, Math.floor(live.length / 2)));
const peak = (l, f) => Math.max(...l.map(f));
const firstHalfAnon = peak(firstHalf, (s) => s.rss.serviceAnon);
const secondHalfAnon = peak(liveHalf, (s) => s.rss.serviceAnon);
const recorderRss = peak(result.samples, (s) => s.rss.recorder + s.rss.watchdog);
let pass = ok('service exit', code === 0, `exit code ${code}`);
pass = ok('stalls', result.stalls.length > 0 && result.stalls.every((s) => s.dumps.length === 1), `${result.stalls.length} injected, in exactly one dump: ${result.stalls.filter((s) => s.dumps.length === 1).length}`) && pass;
if (service.withRequest) {
  const both = result.stalls.filter((s) => s.dumps.length === 1 && s.dumpsWithRequest.length === 1).length;
  pass = ok('requests', both === result.stalls.length, `stalls whose dump also holds the Node range of their /stall request: ${both} of ${result.stalls.length}`) && pass;
}
pass = ok('disk', maxDisk <= parseSizeBytes(values['max-disk']), `max ${(maxDisk / 2 ** 20).toFixed(1)} MiB of --max-disk ${values['max-disk']}; second half ${(Math.min(...half.map((s) => s.diskBytes)) / 2 ** 20).toFixed(1)}-${(Math.max(...half.map((s) => s.diskBytes)) / 2 ** 20).toFixed(1)} MiB`) && pass;
pass = ok('rss', live.length > 0 && secondHalfAnon <= firstHalfAnon * 1.1 + service.anonSlackKb && recorderRss <= RECORDER_RSS_MAX_KB,
  `service anonymous: second half max ${mib(secondHalfAnon)} MiB vs first half ${mib(firstHalfAnon)} MiB; service in all (with ring pages): first half ${mib(peak(firstHalf, (s) => s.rss.service))}, second ${mib(peak(liveHalf, (s) => s.rss.service))} MiB; recorder + watchdog max ${mib(recorderRss)} MiB (bound ${RECORDER_RSS_MAX_KB / 1024})`) && pass;
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
rmSync(logDir, { recursive: true, force: true });
if (!process.env.SOAK_KEEP) rmSync(dir, { recursive: true, force: true });
else console.log('kept', dir);
process.exit(pass ? 0 : 1);
