import { parseCommandArgs, usageError } from '../args.js';
import { wantColor } from '../../report/format-text.js';
import { runDemo } from '../../trace/demo.js';
import { writeStdout } from '../../output-file.js';
import { reportExitCode } from '../../report/run.js';

const HELP = `usage: gil-nvtx demo [--nsys | --collector] [-o DIR] [--python PATH] [--quiet]

Builds (or reuses) a GIL-instrumented CPython, runs a bundled multithreaded workload with a GIL stall
(a C call that holds the GIL ~200 ms off-CPU, another ~200 ms on-CPU, a writer doing fdatasync),
traces it - with nsys when it is installed, otherwise with the embedded gil-nvtx collector - and
prints the GIL report. Also writes DIR/report.html and DIR/trace.perfetto.json (ui.perfetto.dev).

options:
  --nsys            trace with nsys (-t nvtx,osrt); fails if nsys is missing
  --collector       trace with the embedded collector even if nsys is installed
  -o, --output DIR  where the trace, HTML and Perfetto files go (default: gil-nvtx-demo)
  --python PATH     use this patched interpreter instead of building one
  -q, --quiet       no progress on stderr (also when CI=true)
  -h, --help        this text
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('demo', {
    args: argv,
    options: {
      nsys: { type: 'boolean', default: false },
      collector: { type: 'boolean', default: false },
      output: { type: 'string', short: 'o' },
      python: { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (values.nsys && values.collector) {
    throw usageError('demo', '--nsys and --collector exclude each other: pick one, or neither to let the demo choose.');
  }
  const quiet = values.quiet || process.env.CI === 'true';
  const say = (line: string) => {
    if (!quiet) process.stderr.write(`gil-nvtx demo: ${line}\n`);
  };
  const result = await runDemo({
    python: values.python,
    tool: values.nsys ? 'nsys' : values.collector ? 'collector' : 'auto',
    outDir: values.output,
    quiet,
    color: wantColor(process.stdout),
    onProgress: say,
  });
  writeStdout(result.output.endsWith('\n') ? result.output : `${result.output}\n`);
  say(`traced with ${result.tool === 'nsys' ? 'nsys' : 'the gil-nvtx collector'}: ${result.trace}`);
  say(`HTML timeline: ${result.html}`);
  say(`Perfetto (ui.perfetto.dev): ${result.perfetto}`);
  return reportExitCode(result.report);
}
