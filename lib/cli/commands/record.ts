import { parseCommandArgs, usageError, wholeNumberOption } from '../args.js';
import { minDiskBytes, recordCommand, RING_PROCESSES, type RecordResult } from '../../trace/record.js';
import { formatBytes, parseDurationMs, parseSizeBytes } from '../../units.js';
import { COMMAND_RUN_OPTIONS, commandRunValues } from './trace.js';

const HELP = `usage: gil-nvtx record [-o DIR] [--window 30s] [--max-disk 512M] [--trigger-hold-ms 100]
                      [--trigger-wait-ms N] [--before 10s] [--after 2s] [--max-dumps N]
                      [--metrics-port N] [--metrics-host 127.0.0.1] [--metrics-file PATH]
                      [--metrics-interval 10s] [--quiet] -- <command…>

The flight recorder: runs <command> (a service, for hours) with the collector in ring mode. Each
process records into a fixed-size ring, so disk and memory stay flat however long it runs. A trigger
writes the window around it as DIR/dump-<n>-<time>/, a trace folder \`gil-nvtx report\` reads, and
recording goes on. Triggers: a GIL hold longer than --trigger-hold-ms (a wait longer than
--trigger-wait-ms), SIGUSR2 to this process, or
\`gil-nvtx dump DIR\` from another shell. Triggers inside one dump's window give that one dump.

options:
  -o, --output DIR       record folder (default: gil-nvtx-record)
  --window DURATION      how far back the rings must reach, and the longest dump (default 30s)
  --max-disk SIZE        disk for the whole run (default 512M): half for the rings, sized for
                         ${RING_PROCESSES} processes (each ring: SIZE / ${2 * RING_PROCESSES}), half for the kept dumps
  --trigger-hold-ms N    a GIL hold longer than N ms triggers a dump (default 100; 0 = never)
  --trigger-wait-ms N    a GIL wait longer than N ms triggers a dump (default 0 = never)
  --before DURATION      a dump starts this long before its trigger (default 10s, at most --window)
  --after DURATION       and ends this long after it (default 2s)
  --max-dumps N          dumps kept, oldest removed first (default 10)
  --keep-raw             keep each dump's raw/ files beside its trace.sqlite
  --watch-ms N           the watchdog samples GIL holds longer than N ms (default 10)
  --metrics-port N       serve GIL metrics (Prometheus text format) on http://HOST:N/metrics while
                         the command runs; 0 = a free port. The URL is printed on stderr.
  --metrics-host HOST    the address to serve them on (default 127.0.0.1: this machine only)
  --metrics-file PATH    also write them to PATH, whole, every interval and at the end
                         (default DIR/metrics.prom with --metrics-port; alone: the file only)
  --metrics-interval DURATION  how often the file is written and the ratio gauges move (default 10s)
  -q, --quiet            no summary on stderr (also when CI=true)
  -h, --help             this text

Durations: 100ms, 30s, 5m, 1h. Sizes: 4096, 64K, 512M, 2G (powers of 1024).
The exit code is the command's (128 + signal number if a signal ended it).
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('record', {
    args: argv,
    allowPositionals: true,
    options: {
      ...COMMAND_RUN_OPTIONS,
      window: { type: 'string' },
      'max-disk': { type: 'string' },
      'trigger-hold-ms': { type: 'string' },
      'trigger-wait-ms': { type: 'string' },
      before: { type: 'string' },
      after: { type: 'string' },
      'max-dumps': { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      'metrics-file': { type: 'string' },
      'metrics-interval': { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const duration = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const ms = parseDurationMs(v);
    if (ms === null) throw usageError('record', `${flag} wants a duration such as 500ms, 30s, 5m or 1h, not '${v}'.`);
    return ms;
  };
  const windowMs = duration('--window', values.window);
  if (windowMs === 0) throw usageError('record', '--window must be longer than 0.');
  const beforeMs = duration('--before', values.before);
  const afterMs = duration('--after', values.after);
  let maxDiskBytes: number | undefined;
  if (values['max-disk'] !== undefined) {
    const bytes = parseSizeBytes(values['max-disk']);
    if (bytes === null) throw usageError('record', `--max-disk wants a size such as 512M, 2G or 64K, not '${values['max-disk']}'.`);
    maxDiskBytes = bytes;
    if (bytes < minDiskBytes(process.env)) {
      throw usageError('record', `--max-disk ${values['max-disk']} is too small: the smallest rings for ${RING_PROCESSES} processes and as much again for dumps take ${formatBytes(minDiskBytes(process.env))}.`);
    }
  }
  const [w, b, a] = [windowMs ?? 30_000, beforeMs ?? Math.min(10_000, windowMs ?? 30_000), afterMs ?? 2_000];
  if (b + a > w) throw usageError('record', `--before plus --after (${b + a} ms) is longer than --window (${w} ms).`);
  const triggerHoldMs = wholeNumberOption('record', '--trigger-hold-ms', values['trigger-hold-ms'], { max: 60000, fallback: 100 });
  const triggerWaitMs = wholeNumberOption('record', '--trigger-wait-ms', values['trigger-wait-ms'], { max: 60000, fallback: 0 });
  const maxDumps = wholeNumberOption('record', '--max-dumps', values['max-dumps'], { min: 1, fallback: 10 });
  const metricsPort = values['metrics-port'] === undefined ? undefined : wholeNumberOption('record', '--metrics-port', values['metrics-port'], { max: 65535, fallback: 0 });
  const metricsHost = values['metrics-host'];
  if (metricsHost !== undefined && !/^[A-Za-z0-9.:_-]+$/.test(metricsHost)) throw usageError('record', `--metrics-host wants an address or host name such as 127.0.0.1, not '${metricsHost}'.`);
  if (metricsHost !== undefined && metricsPort === undefined) throw usageError('record', '--metrics-host needs --metrics-port.');
  if (values['metrics-file'] === '') throw usageError('record', '--metrics-file wants a path.');
  const metricsIntervalMs = duration('--metrics-interval', values['metrics-interval']);
  if (metricsIntervalMs === 0) throw usageError('record', '--metrics-interval must be longer than 0.');
  const { quiet, watchThresholdMs, onProgress } = commandRunValues('record', values, positionals);
  const result = await recordCommand(positionals, {
    outDir: values.output,
    keepRaw: values['keep-raw'],
    watchThresholdMs,
    windowMs,
    beforeMs,
    afterMs,
    maxDiskBytes,
    triggerHoldMs,
    triggerWaitMs,
    maxDumps,
    metricsPort,
    metricsHost,
    metricsFile: values['metrics-file'],
    metricsIntervalMs,
    // Printed even with --quiet: a scraper (or a test) finds a port chosen with --metrics-port 0 here.
    onMetrics: (url) => process.stderr.write(`gil-nvtx record: metrics on ${url}\n`),
    onProgress,
    onSpawn: () => onProgress(`recording into ${values.output ?? 'gil-nvtx-record'} (pid ${process.pid}: SIGUSR2 or \`gil-nvtx dump\` writes a dump)`),
    onDump: (d) => onProgress(`dump -> ${d.dir} (${d.triggers.length} trigger(s): ${[...new Set(d.triggers.map((t) => t.kind))].join(', ')})`),
  });
  if (!quiet) process.stderr.write(summary(result));
  return result.exitCode;
}

function summary(r: RecordResult): string {
  const lines = [`gil-nvtx record: ${r.dumps.length} dump(s) written, ${r.coalesced} trigger(s) folded into them; kept in ${r.outDir}`];
  for (const f of r.failedDumps) lines.push(`gil-nvtx record: ${f}`);
  if (r.signal) lines.push(`gil-nvtx record: the command was ended by ${r.signal}`);
  return `${lines.join('\n')}\n`;
}
