import { GilNvtxError } from '../../errors.js';
import { writeStdout } from '../../output-file.js';
import { parseCommandArgs, parseTop } from '../args.js';
import { probeNsys } from '../../nsys/discover.js';
import { findNsys, withNsys } from '../../nsys/run.js';
import { profile } from '../../nsys/profile.js';
import { wantColor } from '../../report/format-text.js';
import { reportExitCode, runReport } from '../../report/run.js';

const HELP = `usage: gil-nvtx profile [options] -- <command…>

Run <command> under Nsight Systems with the settings this job needs — NVTX and OS-runtime tracing, CPU
sampling off, context switches on request — under a timeout (leftover nsys agents are killed), export
SQLite, and print the GIL report. Child processes are traced when they inherit the environment.

options:
  -o, --output NAME      report path without extension (default gil-nvtx-profile)
  --nsys PATH            the nsys to run (default: GIL_NVTX_NSYS, else the first nsys on PATH;
                         \`gil-nvtx doctor\` lists those on this machine)
  --nsys-arg ARG         extra argument for \`nsys profile\` (repeatable), e.g. --nsys-arg=--duration=30
  --timeout S            stop nsys after S seconds (default 600)
  --python-gil           also let nsys trace the GIL itself (--trace=python-gil, nsys 2024.2 or newer):
                         what a stock, unpatched CPython needs; the report reads those ranges
  --no-osrt              do not trace OS runtime calls
  --context-switches     also record context switches (--cpuctxsw=process-tree; flaky in nsys 2022.4)
  --fork                 trace children that fork without exec (os.fork, multiprocessing 'fork')
  --top N, --json, --html FILE, --perfetto FILE, --no-color    as for \`gil-nvtx report\`
  --quiet                no progress on stderr (also when CI=true)
  -h, --help             this text

Without nsys, use \`gil-nvtx trace -- <command…>\` (the embedded collector) and \`gil-nvtx report\`.
`;

/** `--python-gil` needs an nsys whose `profile` takes it; asked, not assumed from a version number. */
async function requirePythonGil(env: NodeJS.ProcessEnv): Promise<void> {
  const path = findNsys(env)!;
  const probe = await probeNsys({ path, realPath: path, origins: [], selected: true }, env);
  if (probe.pythonGil) return;
  throw new GilNvtxError(`--python-gil: ${path} (${probe.version ?? 'version unknown'}) cannot trace the GIL itself; that needs nsys 2024.2 or newer.`, {
    hint: 'Choose a newer nsys with --nsys PATH or GIL_NVTX_NSYS (`gil-nvtx doctor` lists the installs; scripts/ci/install-nsys-2024.sh installs 2024.2), or profile a gil-nvtx patched interpreter without --python-gil.',
    exitCode: 3,
  });
}

export async function run(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  const { values } = parseCommandArgs('profile', {
    args: own,
    options: {
      output: { type: 'string', short: 'o', default: 'gil-nvtx-profile' },
      nsys: { type: 'string' },
      'nsys-arg': { type: 'string', multiple: true, default: [] },
      timeout: { type: 'string', default: '600' },
      'python-gil': { type: 'boolean' },
      'no-osrt': { type: 'boolean' },
      'context-switches': { type: 'boolean' },
      fork: { type: 'boolean' },
      top: { type: 'string' },
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
  if (command.length === 0) {
    throw new GilNvtxError('no command to profile.', { hint: 'usage: gil-nvtx profile [options] -- <command…>', exitCode: 2 });
  }
  const timeoutSec = Number(values.timeout);
  if (!Number.isInteger(timeoutSec) || timeoutSec <= 0) {
    throw new GilNvtxError(`--timeout wants whole seconds > 0, not '${values.timeout}'.`, { exitCode: 2 });
  }
  const top = parseTop(values.top);
  const env = withNsys(values.nsys);
  if (!findNsys(env)) {
    throw new GilNvtxError('nsys (Nsight Systems) is not installed or not on PATH.', {
      hint: 'Trace with the embedded collector instead:\n  gil-nvtx trace -o trace -- <command…> && gil-nvtx report trace',
      exitCode: 3,
    });
  }
  if (values['python-gil']) await requirePythonGil(env);
  const quiet = values.quiet === true || process.env.CI === 'true';
  const progress = quiet ? undefined : (s: string) => process.stderr.write(s);
  const result = await profile(command, {
    output: values.output,
    nsysArgs: values['nsys-arg'],
    timeoutSec,
    osrt: !values['no-osrt'],
    contextSwitches: values['context-switches'] === true,
    forkBeforeExec: values.fork === true,
    pythonGil: values['python-gil'] === true,
    env,
    onOutput: progress,
  });
  if (result.timedOut) process.stderr.write(`gil-nvtx profile: nsys was stopped after ${timeoutSec} s; the report covers what it recorded.\n`);
  if (!result.sqlite) throw new GilNvtxError('nsys produced no SQLite export.', { exitCode: 1 });
  const report = await runReport(result.sqlite, {
    top,
    minHoldNs: 0,
    format: values.json ? 'json' : 'text',
    color: !values['no-color'] && wantColor(process.stdout),
    html: values.html,
    perfetto: values.perfetto,
    env,
  });
  writeStdout(report.output);
  if (!quiet) process.stderr.write(`wrote ${result.report}\nwrote ${result.sqlite}\n${report.written.map((f) => `wrote ${f}\n`).join('')}`);
  // The program's own failure is the profile's failure: a CI job profiling a test must not turn green.
  if (result.exitCode !== 0 && !result.timedOut) return result.exitCode ?? 1;
  return reportExitCode(report.report);
}
