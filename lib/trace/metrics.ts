// GIL metrics of a `gil-nvtx record` run in the Prometheus text format. The collector keeps, in each
// ring file's header, counters and duration histograms per GIL (the metrics table, raw_format.h),
// written with plain stores by the traced threads; this reads them from the files (the same page
// cache as the processes' mappings), so serving metrics costs the service nothing. prom-client
// formats the exposition.
import { createServer, type Server } from 'node:http';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { Counter, Gauge, Registry, type MetricValueWithName } from 'prom-client';
import { GilNvtxError } from '../errors.js';
import { HeaderOffset, RawMetrics, RAW_HEADER_SIZE, RAW_RING_DEF_CHUNKS } from './raw-format.js';
import { ringFiles } from './ring-dump.js';

/** The recorder's own counts, served beside the GILs' (recorder health). */
export interface RecorderHealth {
  dumps: number;
  failedDumps: number;
  triggers: number;
  coalesced: number;
}

/** One GIL of one process, summed over its metrics table entries (and over the images of an exec). */
interface GilTotals {
  holds: number;
  holdNs: number;
  waits: number;
  waitNs: number;
  longHolds: number;
  drops: number;
  holdBuckets: number[];
  waitBuckets: number[];
}

/** Per ring file: its pid, its GILs' totals, and what the file header says of the recorder's health. */
interface FileTotals {
  pid: number;
  gils: Map<string, GilTotals>;
  dropped: number;
  ringBytes: number;
}

const FIELDS = ['holds', 'holdNs', 'waits', 'waitNs', 'longHolds', 'drops'] as const;
/** The fields the metrics table stores as such. */
const TABLE_FIELDS = ['holdNs', 'waitNs', 'longHolds', 'drops'] as const;
const u64 = (b: Buffer, off: number) => b.readUInt32LE(off + 4) * 2 ** 32 + b.readUInt32LE(off);
const emptyTotals = (): GilTotals => ({ holds: 0, holdNs: 0, waits: 0, waitNs: 0, longHolds: 0, drops: 0, holdBuckets: Array(RawMetrics.buckets).fill(0), waitBuckets: Array(RawMetrics.buckets).fill(0) });

/** Upper bounds (seconds) of the histogram buckets but the last (+Inf): 2^(10 + 2k) ns. */
export const BUCKET_BOUNDS_SECONDS = Array.from({ length: RawMetrics.buckets - 1 }, (_, k) => 2 ** (RawMetrics.bucket0Log2 + 2 * k) / 1e9);

/** The metrics table of one ring file's header, per GIL (interpreter id as text). */
export function readMetricsTable(header: Buffer): Map<string, GilTotals> {
  const gils = new Map<string, GilTotals>();
  for (let i = 0; i < RawMetrics.entries; i++) {
    const e = RawMetrics.offset + i * RawMetrics.entrySize;
    if (header.readUInt32LE(e + RawMetrics.used) !== 1) continue;
    const gil = header.readBigUInt64LE(e + RawMetrics.gil).toString();
    const t = gils.get(gil) ?? emptyTotals();
    for (const f of TABLE_FIELDS) t[f] += u64(header, e + RawMetrics[f]);
    for (let k = 0; k < RawMetrics.buckets; k++) {
      const [holds, waits] = [u64(header, e + RawMetrics.holdBuckets + 8 * k), u64(header, e + RawMetrics.waitBuckets + 8 * k)];
      t.holdBuckets[k]! += holds;
      t.waitBuckets[k]! += waits;
      // The collector keeps no counts of its own: each hold and wait is in exactly one bucket.
      t.holds += holds;
      t.waits += waits;
    }
    gils.set(gil, t);
  }
  return gils;
}

/** `a` raised to at least `b`, field by field: a counter never goes down, whatever one read saw. */
function raise(a: GilTotals, b: GilTotals): void {
  for (const f of FIELDS) a[f] = Math.max(a[f], b[f]);
  for (let k = 0; k < RawMetrics.buckets; k++) {
    a.holdBuckets[k] = Math.max(a.holdBuckets[k]!, b.holdBuckets[k]!);
    a.waitBuckets[k] = Math.max(a.waitBuckets[k]!, b.waitBuckets[k]!);
  }
}

/** Counters and histograms of the rings in `ringDir`, and the registry that formats them. */
export class GilMetrics {
  readonly registry = new Registry();
  /** Every ring file seen, by path: an ended process's file is removed later, its values stay. */
  private readonly files = new Map<string, FileTotals>();
  /** Per `pid/gil`: held and waited seconds at the last two interval marks, for the ratio gauges. */
  private marks = new Map<string, { atNs: number; holdNs: number; waitNs: number }>();
  private ratios = new Map<string, { held: number; wait: number }>();

  constructor(private readonly ringDir: string, private readonly health: () => RecorderHealth) {
    // prom-client calls `collect` with the metric as `this`; the totals come from here.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const labelNames = ['pid', 'gil'] as const;
    const gilCounter = (name: string, help: string, value: (t: GilTotals) => number) =>
      new Counter({ name, help, labelNames, registers: [this.registry], collect: function (this: Counter<'pid' | 'gil'>) {
        this.reset();
        for (const [labels, t] of self.totals()) this.inc(labels, value(t));
      } });
    gilCounter('gil_nvtx_gil_held_seconds_total', 'Time a thread held the GIL (holds that ended).', (t) => t.holdNs / 1e9);
    gilCounter('gil_nvtx_gil_wait_seconds_total', 'Time threads spent waiting for the GIL, summed over the threads (waits that ended).', (t) => t.waitNs / 1e9);
    gilCounter('gil_nvtx_gil_holds_total', 'GIL holds that ended.', (t) => t.holds);
    gilCounter('gil_nvtx_gil_waits_total', 'GIL waits that ended.', (t) => t.waits);
    gilCounter('gil_nvtx_gil_long_holds_total', 'GIL holds at least as long as --trigger-hold-ms.', (t) => t.longHolds);
    gilCounter('gil_nvtx_gil_drop_requests_total', 'Drop requests: a waiter timed out (the switch interval) and asked the holder to drop the GIL.', (t) => t.drops);
    this.histogram('gil_nvtx_gil_hold_duration_seconds', 'Length of GIL holds.', 'holdBuckets', 'holdNs', 'holds');
    this.histogram('gil_nvtx_gil_wait_duration_seconds', 'Length of GIL waits.', 'waitBuckets', 'waitNs', 'waits');
    const ratioGauge = (name: string, help: string, pick: 'held' | 'wait') =>
      new Gauge({ name, help, labelNames, registers: [this.registry], collect: function (this: Gauge<'pid' | 'gil'>) {
        this.reset();
        for (const [key, r] of self.ratios) {
          const [pid, gil] = key.split('/');
          this.set({ pid: pid!, gil: gil! }, r[pick]);
        }
      } });
    ratioGauge('gil_nvtx_gil_held_ratio', 'Share of the last metrics interval the GIL was held.', 'held');
    ratioGauge('gil_nvtx_gil_wait_ratio', 'Threads waiting for the GIL on average over the last metrics interval.', 'wait');
    const recorderCounter = (name: string, help: string, value: () => number) =>
      new Counter({ name, help, registers: [this.registry], collect: function (this: Counter) {
        this.reset();
        this.inc(value());
      } });
    recorderCounter('gil_nvtx_recorder_dumps_total', 'Dumps written.', () => this.health().dumps);
    recorderCounter('gil_nvtx_recorder_failed_dumps_total', 'Dumps that failed (full disk, deleted folder); recording went on.', () => this.health().failedDumps);
    recorderCounter('gil_nvtx_recorder_triggers_total', 'Triggers received (holds, waits, signals, gil-nvtx dump).', () => this.health().triggers);
    recorderCounter('gil_nvtx_recorder_coalesced_triggers_total', 'Triggers folded into a dump another trigger started.', () => this.health().coalesced);
    recorderCounter('gil_nvtx_recorder_dropped_events_total', 'Events the traced processes could not record.', () => [...this.files.values()].reduce((n, f) => n + f.dropped, 0));
    new Gauge({ name: 'gil_nvtx_recorder_ring_bytes', help: 'Disk the live rings take.', registers: [this.registry], collect: function (this: Gauge) {
      this.set(self.liveRingBytes);
    } });
  }

  private liveRingBytes = 0;

  /** A histogram from the collector's buckets (prom-client's Histogram only observes values one by one). */
  private histogram(name: string, help: string, buckets: 'holdBuckets' | 'waitBuckets', sum: 'holdNs' | 'waitNs', count: 'holds' | 'waits'): void {
    const metric = {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: () => {
        const values: MetricValueWithName<string>[] = [];
        for (const [labels, t] of this.totals()) {
          let cumulative = 0;
          t[buckets].forEach((n, k) => {
            cumulative += n;
            values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: k < BUCKET_BOUNDS_SECONDS.length ? BUCKET_BOUNDS_SECONDS[k]! : '+Inf' }, value: cumulative });
          });
          values.push({ metricName: `${name}_sum`, labels, value: t[sum] / 1e9 });
          values.push({ metricName: `${name}_count`, labels, value: t[count] });
        }
        return { name, help, type: 'histogram', aggregator: 'sum', values };
      },
    };
    // What the registry reads of a metric: name, help, type and get().
    this.registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** Reads the rings again (a folder that is gone reads as no rings: the values seen stay). */
  refresh(): void {
    let live = 0;
    for (const { file, header } of ringFiles(this.ringDir)) {
      const chunkSize = header.readUInt32LE(HeaderOffset.chunkSize);
      const ringBytes = RAW_HEADER_SIZE + (RAW_RING_DEF_CHUNKS + header.readUInt32LE(HeaderOffset.ringChunks)) * chunkSize;
      live += ringBytes;
      const seen = this.files.get(file) ?? { pid: header.readUInt32LE(HeaderOffset.pid), gils: new Map(), dropped: 0, ringBytes };
      for (const [gil, t] of readMetricsTable(header)) {
        const had = seen.gils.get(gil);
        if (had) raise(had, t);
        else seen.gils.set(gil, t);
      }
      seen.dropped = Math.max(seen.dropped, u64(header, HeaderOffset.dropped));
      this.files.set(file, seen);
    }
    this.liveRingBytes = live;
  }

  /** Per `{pid, gil}`: the totals over the files of that pid (an exec starts a new file under it). */
  totals(): [{ pid: string; gil: string }, GilTotals][] {
    const byKey = new Map<string, GilTotals>();
    for (const f of this.files.values()) {
      for (const [gil, t] of f.gils) {
        const key = `${f.pid}/${gil}`;
        const sum = byKey.get(key) ?? emptyTotals();
        for (const k of FIELDS) sum[k] += t[k];
        t.holdBuckets.forEach((n, k) => (sum.holdBuckets[k]! += n));
        t.waitBuckets.forEach((n, k) => (sum.waitBuckets[k]! += n));
        byKey.set(key, sum);
      }
    }
    return [...byKey].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([key, t]) => {
      const [pid, gil] = key.split('/');
      return [{ pid: pid!, gil: gil! }, t];
    });
  }

  /** Marks the end of a metrics interval: the ratio gauges cover the time since the previous mark. */
  markInterval(nowNs: number): void {
    const marks = new Map<string, { atNs: number; holdNs: number; waitNs: number }>();
    for (const [labels, t] of this.totals()) {
      const key = `${labels.pid}/${labels.gil}`;
      const before = this.marks.get(key);
      if (before && nowNs > before.atNs) {
        const dt = nowNs - before.atNs;
        this.ratios.set(key, { held: (t.holdNs - before.holdNs) / dt, wait: (t.waitNs - before.waitNs) / dt });
      }
      marks.set(key, { atNs: nowNs, holdNs: t.holdNs, waitNs: t.waitNs });
    }
    this.marks = marks;
  }

  /** The exposition, fresh from the rings. */
  async text(): Promise<string> {
    this.refresh();
    return this.registry.metrics();
  }
}

/** Writes `text` to `file` whole: a reader sees the previous version or this one. */
export function writeFileAtomically(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Serves `metrics` on http://host:port/metrics. Resolves once listening (with the port, for port 0);
 * rejects with one-line errors for a busy port (exit 1) and a host that cannot be bound (exit 2).
 */
export async function serveMetrics(metrics: GilMetrics, host: string, port: number): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('gil-nvtx record serves /metrics\n');
      return;
    }
    metrics.text().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = `${host}:${port}`;
      if (err.code === 'EADDRINUSE') reject(new GilNvtxError(`--metrics-port ${port}: ${where} is already in use; pick a free port, or 0 for any.`, { exitCode: 1 }));
      else reject(new GilNvtxError(`--metrics-host ${host}: cannot listen on ${where} (${err.code ?? err.message}); give an address of this machine, such as 127.0.0.1.`, { exitCode: 2 }));
    });
    server.listen(port, host, () => resolve());
  });
  server.unref();
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return { server, url: `http://${shown}:${bound}/metrics` };
}
