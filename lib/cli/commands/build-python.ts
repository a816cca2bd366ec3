import { parseCommandArgs, usageError, wholeNumberOption } from '../args.js';
import { buildPython } from '../../python/build.js';

const HELP = `usage: gil-nvtx build-python <version> [options]

Builds CPython <version> with the GIL NVTX patch and installs it atomically.

options:
  --prefix DIR          install here (default ~/.local/share/gil-nvtx/pythons/<version>[t])
  --tarball FILE        use this source tarball (its sha256 must match the manifest)
  --jobs N              parallel make jobs (default: number of CPUs)
  --disable-gil         free-threaded build (3.13+); installs as <version>t
  --pyenv               install into $(pyenv root)/versions/<version>-gil-nvtx
  --configure-arg ARG   extra ./configure argument (repeatable)
  --json                print the result as JSON on stdout
  --quiet               no progress on stderr (also when CI=true)
  -h, --help            this text

Source order: --tarball, ~/.cache/gil-nvtx/tarballs/<sha256>/, python.org, then on Debian-family
systems \`apt-get source --download-only\` with a private apt configuration. Re-running with the same
arguments reuses the installed prefix (or the built tree of a run that failed at install).
`;

export async function run(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseCommandArgs('build-python', {
    args: argv,
    allowPositionals: true,
    options: {
      prefix: { type: 'string' },
      tarball: { type: 'string' },
      jobs: { type: 'string' },
      'disable-gil': { type: 'boolean' },
      pyenv: { type: 'boolean' },
      'configure-arg': { type: 'string', multiple: true },
      json: { type: 'boolean' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw usageError('build-python', positionals.length === 0 ? 'Which CPython version? e.g. `gil-nvtx build-python 3.11.2`.' : `One version at a time (got ${positionals.join(' ')}).`);
  }
  const jobs = v.jobs === undefined ? undefined : wholeNumberOption('build-python', '--jobs', v.jobs, { min: 1, fallback: 0 });
  const quiet = v.quiet === true || process.env.CI === 'true';
  const result = await buildPython({
    version: positionals[0]!,
    prefix: v.prefix,
    tarball: v.tarball,
    jobs,
    disableGil: v['disable-gil'],
    pyenv: v.pyenv,
    configureArgs: v['configure-arg'],
    quiet,
  });
  if (v.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else process.stdout.write(`${result.python}\n`);
  if (!quiet && !v.json) {
    process.stderr.write(result.reused ? `reused the existing build in ${result.prefix}\n` : `built CPython ${result.version} into ${result.prefix}\n`);
  }
  return 0;
}
