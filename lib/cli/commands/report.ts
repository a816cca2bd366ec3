import { writeStdout } from '../../output-file.js';
import { parseCommandArgs, usageError } from '../args.js';
import { REPORT_OPTIONS, REPORT_OPTIONS_HELP, reportRunOptions } from '../report-options.js';
import { withNsys } from '../../nsys/run.js';
import { reportExitCode, runReport } from '../../report/run.js';

const HELP = `usage: gil-nvtx report <trace> [options]

Analyse a GIL trace: check that holds never overlap, summarise holds and waits per thread, and explain
the longest holds (whom they blocked, whether the holder was on CPU, concurrent OS calls and NVTX ranges).

<trace> is a .nsys-rep (exported with nsys), its .sqlite export, or a \`gil-nvtx trace\` output folder.
The GIL ranges come from a gil-nvtx patched interpreter (NVTX domain 'CPython GIL') or from nsys 2024.2+
tracing a stock CPython itself (\`nsys profile --trace=python-gil\`, domain 'GIL Trace').

options:
  --nsys PATH            the nsys that exports a .nsys-rep (default: GIL_NVTX_NSYS, else nsys on PATH)
${REPORT_OPTIONS_HELP}
  --quiet                no progress on stderr (also when CI=true)
  -h, --help             this text

exit status: 0 report written; 4 the trace violates the no-overlap invariant (report still printed);
5 the trace is incomplete: events were dropped while recording, or bad rows were left out (report
still printed); 1-3 the trace could not be read (the message says why).
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('report', {
    args: argv,
    allowPositionals: true,
    options: {
      ...REPORT_OPTIONS,
      nsys: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw usageError('report', positionals.length === 0 ? 'no trace given.' : `One trace at a time (got ${positionals.length}).`);
  }
  const reportOptions = reportRunOptions('report', values);
  const env = withNsys(values.nsys);
  const quiet = values.quiet === true || process.env.CI === 'true';
  const result = await runReport(positionals[0]!, {
    ...reportOptions,
    env,
    onProgress: quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
  });
  writeStdout(result.output);
  if (!quiet) for (const f of result.written) process.stderr.write(`wrote ${f}\n`);
  return reportExitCode(result.report);
}
