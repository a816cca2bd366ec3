// `gil-nvtx record --metrics-port`: the GIL metrics a scraper reads while the service runs, checked
// against the trace of the same run (the dump its long holds trigger, whose window covers the whole
// run). The workload (test-support/programs/metrics_workload.py) waits on a control file while the
// test scrapes, so nothing here waits for time to pass.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GilMetrics } from '../../lib/trace/metrics.js';
import { HeaderOffset, RawMetrics, RAW_FORMAT_VERSION, RAW_HEADER_SIZE, RAW_MAGIC } from '../../lib/trace/raw-format.js';
import { patchedPythonOrSkip } from '../helpers/pythons.js';
import { ROOT, ensureCollector, queryAll, scratchDir } from './helpers.js';

const patched = await patchedPythonOrSkip('3.11.2');
const python = 'python' in patched ? patched.python : '';
const CLI = join(ROOT, 'bin', 'gil-nvtx.js');
const WORKLOAD = join(ROOT, 'test-support', 'programs', 'metrics_workload.py');
const LONG = 3; // the workload's long holds, 40 ms each
const HANDOFFS = 2 * 20000;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * The Prometheus text exposition format, strictly: HELP and TYPE lines before a family's samples,
 * every sample in a declared family (histograms: _bucket with le, _sum, _count), label values quoted,
 * values numbers. Throws on the first line that is not.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  expect(text.endsWith('\n'), 'ends with a newline').toBe(true);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = new RegExp(`^# (HELP|TYPE) (${NAME}) (.+)$`).exec(line);
    if (m) {
      if (m[1] === 'TYPE') {
        expect(['counter', 'gauge', 'histogram'], line).toContain(m[3]);
        expect(types.has(m[2]!), `one TYPE for ${m[2]}`).toBe(false);
        types.set(m[2]!, m[3]!);
      }
      continue;
    }
    m = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$)/y;
    for (let at = 0; at < body.length; ) {
      label.lastIndex = at;
      const l = label.exec(body);
      if (!l) throw new Error(`bad labels in ${line}`);
      labels[l[1]!] = l[2]!;
      at = label.lastIndex;
    }
    const value = m[3] === '+Inf' ? Infinity : Number(m[3]);
    if (Number.isNaN(value)) throw new Error(`bad value in ${line}`);
    const name = m[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
    expect(types.has(family), `${name} is declared`).toBe(true);
    if (types.get(family) === 'histogram') expect(name === family ? '' : name.slice(family.length), line).toMatch(/^_(bucket|sum|count)$/);
    if (name.endsWith('_bucket')) expect(labels.le, line).toMatch(/^(\+Inf|[0-9.e+-]+)$/);
    samples.push({ name, labels, value });
  }
  return { types, samples };
}

/** The value of `name` for `pid` (and GIL 0), or for no labels when pid is undefined. */
function value(samples: Sample[], name: string, pid?: number, le?: string): number {
  const hit = samples.filter((s) => s.name === name && (pid === undefined || (s.labels.pid === String(pid) && s.labels.gil === '0')) && s.labels.le === le);
  expect(hit, `${name} pid ${pid} le ${le}`).toHaveLength(1);
  return hit[0]!.value;
}

async function until<T>(what: string, check: () => T | undefined | false, context: () => string, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${context()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf('skip' in patched)('gil-nvtx record --metrics-port', () => {
  it('a scrape during the run sees the hand-off; at the end the counts, held seconds and histograms agree with the trace', async () => {
    const dir = scratchDir('metrics');
    const ctrl = scratchDir('metrics-ctrl');
    const child = spawn(process.execPath, [CLI, 'record', '-o', dir, '--metrics-port', '0', '--metrics-interval', '100ms', '--trigger-hold-ms', '20',
      '--window', '60s', '--before', '30s', '--after', '10s', '--max-disk', '64M', '--', python, '-u', WORKLOAD, ctrl], {
      env: { ...process.env, CI: '', GIL_NVTX_COLLECTOR: ensureCollector() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((res) => child.once('close', (code) => res(code)));
    const context = () => `stdout:\n${out}\nstderr:\n${err}`;
    try {
      const url = await until('the metrics URL', () => /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)\n/.exec(err)?.[1], context);
      expect(err.match(/metrics on /g)).toHaveLength(1);
      const pid = Number(await until('the workload', () => /^scrape (\d+)$/m.exec(out)?.[1], context));

      // During the run: the hand-off threads have ended, their holds and waits are all counted.
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const live = parseExposition(await res.text());
      const liveHolds = value(live.samples, 'gil_nvtx_gil_holds_total', pid);
      expect(liveHolds).toBeGreaterThanOrEqual(HANDOFFS);
      expect(value(live.samples, 'gil_nvtx_gil_waits_total', pid)).toBeGreaterThanOrEqual(HANDOFFS);
      // Holds of 20 ms before the workload's own are the machine's doing (a holder preempted on a loaded machine).
      const liveLong = value(live.samples, 'gil_nvtx_gil_long_holds_total', pid);
      expect(value(live.samples, 'gil_nvtx_gil_held_seconds_total', pid)).toBeGreaterThan(0);
      expect(live.types.get('gil_nvtx_gil_hold_duration_seconds')).toBe('histogram');
      // The file is written every interval, not only at the end.
      await until('the metrics file', () => existsSync(join(dir, 'metrics.prom')), context);
      await until('a held-ratio gauge', () => /^gil_nvtx_gil_held_ratio\{pid="\d+",gil="0"\} /m.test(readFileSync(join(dir, 'metrics.prom'), 'utf8')), context);
      writeFileSync(join(ctrl, 'go'), '');
      expect(await exited, context()).toBe(0);
      expect(out).toMatch(/^done$/m);

      const final = parseExposition(readFileSync(join(dir, 'metrics.prom'), 'utf8')).samples;
      const dumps = readdirSync(dir).filter((d) => /^dump-\d+-/.test(d));
      expect(dumps, context()).toHaveLength(1);
      const db = join(dir, dumps[0]!, 'trace.sqlite');
      const ranges = (text: string) =>
        queryAll<{ n: number; ns: number; long: number; mid: number }>(db,
          `SELECT count(*) AS n, total(e.end - e.start) AS ns, total(e.end - e.start >= 20e6) AS long, total(e.end - e.start > ${2 ** 24} AND e.end - e.start <= ${2 ** 26}) AS mid
           FROM NVTX_EVENTS e JOIN StringIds s ON s.id = e.textId WHERE s.value = ? AND (e.globalTid >> 24) & 16777215 = ?
           AND e.end < (SELECT end FROM GILNVTX_PROCESSES WHERE pid = ?)`, text, pid, pid)[0]!;
      const holds = ranges('Holding GIL');
      const waits = ranges('Waiting for GIL');
      const drops = queryAll<{ n: number }>(db, "SELECT count(*) AS n FROM NVTX_EVENTS e JOIN StringIds s ON s.id = e.textId WHERE s.value = 'GIL drop request' AND (e.globalTid >> 24) & 16777215 = ?", pid)[0]!.n;

      // The trace's ranges that ended before the process did (it closes the ones still open at its exit),
      // exactly the ones the collector counted.
      const finalHolds = value(final, 'gil_nvtx_gil_holds_total', pid);
      expect(finalHolds).toBeGreaterThan(liveHolds);
      expect(finalHolds).toBe(holds.n);
      const finalWaits = value(final, 'gil_nvtx_gil_waits_total', pid);
      expect(finalWaits).toBe(waits.n);
      const finalLong = value(final, 'gil_nvtx_gil_long_holds_total', pid);
      expect(finalLong).toBe(holds.long);
      expect(finalLong - liveLong).toBeGreaterThanOrEqual(LONG);
      const held = value(final, 'gil_nvtx_gil_held_seconds_total', pid);
      expect(Math.abs(held - holds.ns / 1e9) / (holds.ns / 1e9), `held ${held} s, trace ${holds.ns / 1e9} s`).toBeLessThan(0.01);
      const waited = value(final, 'gil_nvtx_gil_wait_seconds_total', pid);
      expect(Math.abs(waited - waits.ns / 1e9) / (waits.ns / 1e9), `waited ${waited} s, trace ${waits.ns / 1e9} s`).toBeLessThan(0.01);
      expect(drops).toBeGreaterThan(0);
      expect(value(final, 'gil_nvtx_gil_drop_requests_total', pid)).toBe(drops);

      // Histograms: cumulative, +Inf = count, the long holds in the (16.8 ms, 67.1 ms] bucket.
      const h = 'gil_nvtx_gil_hold_duration_seconds';
      const buckets = final.filter((s) => s.name === `${h}_bucket` && s.labels.pid === String(pid));
      expect(buckets.map((b) => b.labels.le).at(-1)).toBe('+Inf');
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      expect(value(final, `${h}_count`, pid)).toBe(finalHolds);
      expect(value(final, `${h}_bucket`, pid, '+Inf')).toBe(finalHolds);
      expect(value(final, `${h}_sum`, pid)).toBeCloseTo(held, 6);
      expect(value(final, `${h}_bucket`, pid, String(2 ** 26 / 1e9)) - value(final, `${h}_bucket`, pid, String(2 ** 24 / 1e9))).toBe(holds.mid);
      expect(value(final, 'gil_nvtx_gil_wait_duration_seconds_count', pid)).toBe(finalWaits);
      // Recorder health.
      expect(value(final, 'gil_nvtx_recorder_dumps_total')).toBe(1);
      expect(value(final, 'gil_nvtx_recorder_dropped_events_total')).toBe(0);
      expect(value(final, 'gil_nvtx_recorder_ring_bytes')).toBeGreaterThan(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});

describe('GilMetrics over ring files', () => {
  /** A ring file header whose metrics table has `entries` (owner tid, GIL, hold ns, hold buckets). */
  const ring = (dir: string, name: string, pid: number, entries: { owner: number; gil: number; holdNs: number; buckets: number[] }[]) => {
    const h = Buffer.alloc(RAW_HEADER_SIZE);
    h.write(RAW_MAGIC, 0, 'latin1');
    h.writeUInt32LE(RAW_FORMAT_VERSION, HeaderOffset.version);
    h.writeUInt32LE(65536, HeaderOffset.chunkSize);
    h.writeUInt32LE(pid, HeaderOffset.pid);
    h.writeUInt32LE(8, HeaderOffset.ringChunks);
    entries.forEach((e, i) => {
      const at = RawMetrics.offset + i * RawMetrics.entrySize;
      h.writeUInt32LE(e.owner, at + RawMetrics.owner);
      h.writeUInt32LE(1, at + RawMetrics.used);
      h.writeBigUInt64LE(BigInt(e.gil), at + RawMetrics.gil);
      h.writeBigUInt64LE(BigInt(e.holdNs), at + RawMetrics.holdNs);
      e.buckets.forEach((n, k) => h.writeBigUInt64LE(BigInt(n), at + RawMetrics.holdBuckets + 8 * k));
    });
    writeFileSync(join(dir, name), h);
  };
  const health = () => ({ dumps: 0, failedDumps: 0, triggers: 0, coalesced: 0 });

  it('sums a GIL over its entries and an exec over its images; an ended process keeps its last values; a lower read never lowers them', async () => {
    const dir = scratchDir('metrics-rings');
    mkdirSync(dir, { recursive: true });
    // pid 7: GIL 0 written by two threads (one ended), GIL 1 by one; pid 8: GIL 0.
    ring(dir, '7-1.gnvtx', 7, [{ owner: 0, gil: 0, holdNs: 2e9, buckets: [5, 0, 1] }, { owner: 71, gil: 0, holdNs: 1e9, buckets: [3] }, { owner: 72, gil: 1, holdNs: 5e8, buckets: [0, 2] }]);
    ring(dir, '8-1.gnvtx', 8, [{ owner: 81, gil: 0, holdNs: 1e6, buckets: [1] }]);
    const m = new GilMetrics(dir, health);
    let samples = parseExposition(await m.text()).samples;
    expect(value(samples, 'gil_nvtx_gil_holds_total', 7)).toBe(9);
    expect(value(samples, 'gil_nvtx_gil_held_seconds_total', 7)).toBe(3);
    expect(value(samples, 'gil_nvtx_gil_hold_duration_seconds_bucket', 7, String(2 ** 12 / 1e9))).toBe(8);
    expect(samples.find((s) => s.name === 'gil_nvtx_gil_holds_total' && s.labels.pid === '7' && s.labels.gil === '1')?.value).toBe(2);
    expect(value(samples, 'gil_nvtx_gil_holds_total', 8)).toBe(1);
    // pid 7 execs (a second file, the same pid); pid 8 ends and its ring is removed.
    ring(dir, '7-2.gnvtx', 7, [{ owner: 73, gil: 0, holdNs: 1e9, buckets: [1] }]);
    rmSync(join(dir, '8-1.gnvtx'));
    samples = parseExposition(await m.text()).samples;
    expect(value(samples, 'gil_nvtx_gil_holds_total', 7)).toBe(10);
    expect(value(samples, 'gil_nvtx_gil_held_seconds_total', 7)).toBe(4);
    expect(value(samples, 'gil_nvtx_gil_holds_total', 8)).toBe(1);
    // A read that comes back lower (a file rewritten under us) does not lower a counter.
    ring(dir, '7-2.gnvtx', 7, [{ owner: 73, gil: 0, holdNs: 0, buckets: [0] }]);
    samples = parseExposition(await m.text()).samples;
    expect(value(samples, 'gil_nvtx_gil_holds_total', 7)).toBe(10);
    expect(value(samples, 'gil_nvtx_recorder_ring_bytes')).toBe(2 * (RAW_HEADER_SIZE + 10 * 65536));
  });
});

describe('gil-nvtx record metrics options', () => {
  const run = (args: string[]) => {
    const ran = join(scratchDir('metrics-bad'), 'ran');
    const r = spawnSync(process.execPath, [CLI, 'record', '-o', scratchDir('metrics-bad-out'), ...args, '--', 'touch', ran], { encoding: 'utf8', env: { ...process.env, GIL_NVTX_COLLECTOR: ensureCollector() } });
    expect(existsSync(ran), 'the command never runs').toBe(false);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    return r;
  };

  it('bad values: one line on stderr, exit 2', () => {
    for (const [args, message] of [
      [['--metrics-port', '70000'], /--metrics-port wants a whole number from 0 to 65535, not '70000'/],
      [['--metrics-port', 'http'], /--metrics-port wants a whole number/],
      [['--metrics-port', '0', '--metrics-host', 'local host'], /--metrics-host wants an address or host name/],
      [['--metrics-port', '0', '--metrics-host', '192.0.2.1'], /--metrics-host 192\.0\.2\.1: cannot listen on 192\.0\.2\.1:0 \(EADDRNOTAVAIL\)/],
      [['--metrics-host', '127.0.0.1'], /--metrics-host needs --metrics-port/],
      [['--metrics-port', '0', '--metrics-interval', '5'], /--metrics-interval wants a duration/],
    ] as const) {
      const r = run([...args]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });

  it('a busy port: one line, exit 1', async () => {
    const busy = createServer();
    await new Promise<void>((res) => busy.listen(0, '127.0.0.1', () => res()));
    try {
      const port = (busy.address() as { port: number }).port;
      const r = run(['--metrics-port', String(port)]);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`--metrics-port ${port}: 127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      busy.close();
    }
  });
});
