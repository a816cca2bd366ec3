import { parseCommandArgs, usageError } from '../args.js';
import type { MergeSummary } from '../../trace/merge.js';
import { parseWatchMs, traceCommand, type TraceResult } from '../../trace/run.js';
import { writePerfettoForTrace } from '../../trace/perfetto.js';

const HELP = `usage: gil-nvtx trace [-o DIR] [--format native|perfetto] [--quiet] -- <command…>

Runs <command> with the gil-nvtx NVTX collector attached (no Nsight Systems needed). Every process
of the command that makes NVTX calls - a patched CPython, Node with the gil-nvtx addon, children
that inherit the environment - writes DIR/raw/<pid>-<ns>.gnvtx; they are merged into
DIR/trace.sqlite (the nsys SQLite export schema), which \`gil-nvtx report DIR\` reads.

options:
  -o, --output DIR     trace folder (default: gil-nvtx-trace)
  --format FORMAT      native (default): trace.sqlite only; perfetto: also DIR/trace.perfetto.json
                       for ui.perfetto.dev / chrome://tracing
  --keep-raw           keep DIR/raw (the per-process files) after the merge
  --watch-ms N         the watchdog samples GIL holds longer than N ms (default 10, or
                       GIL_NVTX_WATCH_MS): scheduler state, CPU and run-queue time, faults, the
                       system call, cgroup throttling, pressure; \`report\` explains them from it
  -q, --quiet          no summary on stderr (also when CI=true)
  -h, --help           this text

The exit code is the command's (128 + signal number if a signal ended it); 1 if it exited 0 but no
process made an NVTX call (nothing was traced).
`;

/** The options `trace` and `record` share (`record` adds its own to these). */
export const COMMAND_RUN_OPTIONS = {
  output: { type: 'string', short: 'o' },
  'keep-raw': { type: 'boolean', default: false },
  'watch-ms': { type: 'string' },
  quiet: { type: 'boolean', short: 'q', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** What the shared options say, checked: the command, the watchdog threshold, quiet, progress lines. */
export function commandRunValues(command: string, values: { 'watch-ms'?: string; quiet?: boolean }, positionals: string[]) {
  if (positionals.length === 0) {
    throw usageError(command, `No command to ${command}: usage: gil-nvtx ${command} [-o DIR] -- <command…>.`);
  }
  const quiet = values.quiet === true || process.env.CI === 'true';
  let watchThresholdMs: number | undefined;
  if (values['watch-ms'] !== undefined) {
    watchThresholdMs = parseWatchMs(values['watch-ms']) ?? undefined;
    if (watchThresholdMs === undefined) {
      throw usageError(command, `--watch-ms takes whole milliseconds from 0 to 60000, not '${values['watch-ms']}'.`);
    }
  }
  const onProgress = (line: string) => {
    if (!quiet) process.stderr.write(`gil-nvtx ${command}: ${line}\n`);
  };
  return { quiet, watchThresholdMs, onProgress };
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('trace', {
    args: argv,
    allowPositionals: true,
    options: { ...COMMAND_RUN_OPTIONS, format: { type: 'string', default: 'native' } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const format = values.format ?? 'native';
  if (format !== 'native' && format !== 'perfetto') {
    throw usageError('trace', `Unknown --format '${format}': native or perfetto.`);
  }
  const { quiet, watchThresholdMs, onProgress } = commandRunValues('trace', values, positionals);
  const result = await traceCommand(positionals, { outDir: values.output, keepRaw: values['keep-raw'], watchThresholdMs, onProgress });
  let perfetto: string | null = null;
  if (format === 'perfetto') perfetto = await writePerfettoForTrace(result.database, result.outDir);
  if (!quiet) process.stderr.write(summary(result, perfetto));
  return result.exitCode;
}

function summary(r: TraceResult, perfetto: string | null): string {
  const lines = mergeSummaryLines('trace', r.merge, r.database);
  if (perfetto) lines.splice(1, 0, `gil-nvtx trace: Perfetto / Chrome trace -> ${perfetto}`);
  if (r.signal) lines.push(`gil-nvtx trace: the command was ended by ${r.signal}`);
  return `${lines.join('\n')}\n`;
}

/** What a merge produced, as `trace` and `merge` print it. */
export function mergeSummaryLines(command: string, m: MergeSummary, database: string): string[] {
  const lines = [`gil-nvtx ${command}: ${m.processes} process(es), ${m.threads} thread(s), ${m.events} NVTX event(s) -> ${database}`];
  if (m.withoutCleanExit.length) {
    lines.push(`gil-nvtx ${command}: pid ${m.withoutCleanExit.join(', ')} ended without exit() (_exit or a signal); its events are kept, open ranges end at its last event`);
  }
  if (m.holdSamples) lines.push(`gil-nvtx ${command}: ${m.holdSamples} watchdog sample(s) of long GIL holds`);
  if (m.droppedEvents) lines.push(`gil-nvtx ${command}: ${m.droppedEvents} event(s) dropped: the trace file could not grow (disk full?)`);
  return lines;
}
