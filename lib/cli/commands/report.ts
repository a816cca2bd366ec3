import { GilNvtxError } from '../../errors.js';
import { writeStdout } from '../../output-file.js';
import { parseCommandArgs, parseTop } from '../args.js';
import { withNsys } from '../../nsys/run.js';
import { parseGilSource } from '../../report/gil-sources.js';
import { reportExitCode, runReport } from '../../report/run.js';
import { wantColor } from '../../report/format-text.js';

const HELP = `usage: gil-nvtx report <trace> [options]

Analyse a GIL trace: check that holds never overlap, summarise holds and waits per thread, and explain
the longest holds (whom they blocked, whether the holder was on CPU, concurrent OS calls and NVTX ranges).

<trace> is a .nsys-rep (exported with nsys), its .sqlite export, or a \`gil-nvtx trace\` output folder.
The GIL ranges come from a gil-nvtx patched interpreter (NVTX domain 'CPython GIL') or from nsys 2024.2+
tracing a stock CPython itself (\`nsys profile --trace=python-gil\`, domain 'GIL Trace').

options:
  --gil-source S     auto (default: the patch's ranges when present, else nsys's), patch, or nsys:
                     which ranges to analyse when a trace holds both
  --nsys PATH        the nsys that exports a .nsys-rep (default: GIL_NVTX_NSYS, else nsys on PATH)
  --top N            explain the N longest holds (default 10)
  --min-hold-ms X    only explain holds of at least X ms (default 0)
  --json             print the report as JSON (schema gil-nvtx.report/2, see docs/report.md)
  --html FILE        also write a self-contained HTML timeline to FILE
  --perfetto FILE    also write Chrome trace-event JSON (ui.perfetto.dev) to FILE
  --no-color         no colour (also: NO_COLOR=1); colour is used only on a terminal
  --quiet            no progress on stderr (also when CI=true)
  -h, --help         this text

exit status: 0 report written; 4 the trace violates the no-overlap invariant (report still printed);
5 the trace is incomplete: events were dropped while recording, or bad rows were left out (report
still printed); 1-3 the trace could not be read (the message says why).
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('report', {
    args: argv,
    allowPositionals: true,
    options: {
      'gil-source': { type: 'string' },
      nsys: { type: 'string' },
      top: { type: 'string' },
      'min-hold-ms': { type: 'string' },
      json: { type: 'boolean' },
      html: { type: 'string' },
      perfetto: { type: 'string' },
      'no-color': { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new GilNvtxError(positionals.length === 0 ? 'no trace given.' : `one trace at a time (got ${positionals.length}).`, {
      hint: 'usage: gil-nvtx report <trace.nsys-rep | trace.sqlite | trace-folder> [--json] [--html FILE]',
      exitCode: 2,
    });
  }
  const top = parseTop(values.top);
  const minHoldMs = values['min-hold-ms'] === undefined ? 0 : Number(values['min-hold-ms']);
  if (!Number.isFinite(minHoldMs) || minHoldMs < 0) throw new GilNvtxError(`--min-hold-ms wants a number ≥ 0, not '${values['min-hold-ms']}'.`, { exitCode: 2 });
  const gilSource = parseGilSource(values['gil-source']);
  const env = withNsys(values.nsys);
  const quiet = values.quiet === true || process.env.CI === 'true';
  const result = await runReport(positionals[0]!, {
    gilSource,
    env,
    top,
    minHoldNs: Math.round(minHoldMs * 1e6),
    format: values.json ? 'json' : 'text',
    color: !values['no-color'] && wantColor(process.stdout),
    html: values.html,
    perfetto: values.perfetto,
    onProgress: quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
  });
  writeStdout(result.output);
  if (!quiet) for (const f of result.written) process.stderr.write(`wrote ${f}\n`);
  return reportExitCode(result.report);
}
