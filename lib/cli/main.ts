import { isGilNvtxError } from '../errors.js';

/** Each command module exports `run(argv)`, returning the exit code; the CLI only dispatches. */
interface CommandModule {
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  'build-python': {
    summary: 'build and install a GIL-instrumented CPython',
    load: () => import('./commands/build-python.js'),
  },
  trace: {
    summary: 'run a command with the embedded NVTX collector and merge its trace',
    load: () => import('./commands/trace.js'),
  },
  merge: {
    summary: "merge a trace folder's raw files (after a trace that died before its merge)",
    load: () => import('./commands/merge.js'),
  },
  record: {
    summary: 'the flight recorder: run a service with bounded rings, dump the window around each GIL stall',
    load: () => import('./commands/record.js'),
  },
  dump: { summary: 'ask a running `gil-nvtx record` for a dump now', load: () => import('./commands/dump.js') },
  profile: {
    summary: 'run a command under nsys profile, export SQLite and report',
    load: () => import('./commands/profile.js'),
  },
  report: { summary: 'analyse a trace: long GIL holds, who they blocked, why', load: () => import('./commands/report.js') },
  demo: { summary: 'build, trace and report a GIL stall end to end', load: () => import('./commands/demo.js') },
  doctor: { summary: 'check an interpreter, the NVTX headers and nsys', load: () => import('./commands/doctor.js') },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: gil-nvtx <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n` +
    'Run `gil-nvtx <command> --help` for the options of one command.\n';
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`gil-nvtx: unknown command '${name}'; the commands are ${Object.keys(COMMANDS).join(', ')}. See \`gil-nvtx --help\`.\n`);
    return 2;
  }
  try {
    const mod = await command.load();
    return await mod.run(rest);
  } catch (err) {
    if (isGilNvtxError(err)) {
      process.stderr.write(`gil-nvtx ${name}: ${err.message}\n`);
      if (err.hint) process.stderr.write(`${err.hint}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
