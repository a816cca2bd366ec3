import { GilNvtxError } from '../../errors.js';
import { writeStdout } from '../../output-file.js';
import { parseCommandArgs, usageError, wholeNumberOption } from '../args.js';
import { REPORT_OPTIONS, REPORT_OPTIONS_HELP, reportRunOptions } from '../report-options.js';
import { probeNsys } from '../../nsys/discover.js';
import { findNsys, withNsys } from '../../nsys/run.js';
import { resolveRealExecutable } from '../../nsys/executable.js';
import { profile } from '../../nsys/profile.js';
import { decidePythonGil, pythonSamplingArgs, type PythonGilChoice } from '../../nsys/python-gil.js';
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
  --python-gil           let nsys trace the GIL itself (--trace=python-gil, nsys 2024.2 or newer);
                         by default it does when the nsys can and <command> is not a patched interpreter
  --no-python-gil        never: GIL ranges only from gil-nvtx patched interpreters
  --python-sampling      nsys's Python backtrace sampling (2024.2 or newer), for the Nsight Systems GUI:
                         its exports carry no Python frames, so the report does not use them
  --python-sampling-hz N samples per second per thread (1 to 2000, default 1000)
  --no-osrt              do not trace OS runtime calls
  --context-switches     also record context switches (--cpuctxsw=process-tree; flaky in nsys 2022.4)
  --fork                 trace children that fork without exec (os.fork, multiprocessing 'fork')
  --quiet                no progress on stderr (also when CI=true)
  -h, --help             this text

report options, as for \`gil-nvtx report\`:
${REPORT_OPTIONS_HELP}

Without nsys, use \`gil-nvtx trace -- <command…>\` (the embedded collector) and \`gil-nvtx report\`.
`;

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
      timeout: { type: 'string' },
      'python-gil': { type: 'boolean' },
      'no-python-gil': { type: 'boolean' },
      'python-sampling': { type: 'boolean' },
      'python-sampling-hz': { type: 'string' },
      'no-osrt': { type: 'boolean' },
      'context-switches': { type: 'boolean' },
      fork: { type: 'boolean' },
      ...REPORT_OPTIONS,
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (command.length === 0) throw usageError('profile', 'no command to profile: usage: gil-nvtx profile [options] -- <command…>.');
  const timeoutSec = wholeNumberOption('profile', '--timeout', values.timeout, { min: 1, fallback: 600 });
  const reportOptions = reportRunOptions('profile', values);
  if (values['python-gil'] && values['no-python-gil']) throw usageError('profile', '--python-gil and --no-python-gil contradict each other.');
  const samplingHz = values['python-sampling'] ? wholeNumberOption('profile', '--python-sampling-hz', values['python-sampling-hz'], { min: 1, max: 2000, fallback: 1000 }) : null;
  if (samplingHz === null && values['python-sampling-hz'] !== undefined) throw usageError('profile', '--python-sampling-hz needs --python-sampling.');
  const env = withNsys(values.nsys);
  const nsysPath = findNsys(env);
  if (!nsysPath) {
    throw new GilNvtxError('nsys (Nsight Systems) is not installed or not on PATH.', {
      hint: 'Trace with the embedded collector instead:\n  gil-nvtx trace -o trace -- <command…> && gil-nvtx report trace',
      exitCode: 3,
    });
  }
  const quiet = values.quiet === true || process.env.CI === 'true';
  const progress = quiet ? undefined : (s: string) => process.stderr.write(s);
  // Asked of the nsys itself (`profile --help`), never assumed from its version number.
  const probe = await probeNsys({ path: nsysPath, realPath: nsysPath, origins: [], selected: true }, env);
  const choice: PythonGilChoice = values['python-gil'] ? 'on' : values['no-python-gil'] ? 'off' : 'auto';
  // Resolved once (a pyenv shim costs a `pyenv which`); profile() finds the real path as it is.
  const executable = resolveRealExecutable(command[0]!, env);
  const gil = await decidePythonGil(choice, probe, executable);
  const samplingArgs = pythonSamplingArgs(samplingHz, probe);
  // The warning is not progress: a user who gets no GIL ranges must see why, even with --quiet.
  if (gil.warning) process.stderr.write(`gil-nvtx profile: ${gil.warning}\n`);
  progress?.(`gil-nvtx profile: ${gil.reason}\n`);
  const result = await profile([executable, ...command.slice(1)], {
    output: values.output,
    nsysArgs: [...samplingArgs, ...values['nsys-arg']],
    timeoutSec,
    osrt: !values['no-osrt'],
    contextSwitches: values['context-switches'] === true,
    forkBeforeExec: values.fork === true,
    pythonGil: gil.enabled,
    env,
    onOutput: progress,
  });
  if (result.timedOut) process.stderr.write(`gil-nvtx profile: nsys was stopped after ${timeoutSec} s; the report covers what it recorded.\n`);
  if (!result.sqlite) throw new GilNvtxError('nsys produced no SQLite export.', { exitCode: 1 });
  const report = await runReport(result.sqlite, { ...reportOptions, env });
  writeStdout(report.output);
  if (!quiet) process.stderr.write(`wrote ${result.report}\nwrote ${result.sqlite}\n${report.written.map((f) => `wrote ${f}\n`).join('')}`);
  // The program's own failure is the profile's failure: a CI job profiling a test must not turn green.
  if (result.exitCode !== 0 && !result.timedOut) return result.exitCode ?? 1;
  return reportExitCode(report.report);
}
