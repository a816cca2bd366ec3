import { parseCommandArgs, usageError } from '../args.js';
import { requestDump } from '../../trace/record.js';

const HELP = `usage: gil-nvtx dump DIR

Asks the \`gil-nvtx record\` running into DIR to write a dump of its window now (the same as sending
it SIGUSR2). The dump appears as DIR/dump-<n>-<time>/ once the window's --after time has passed.
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('dump', {
    args: argv,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h', default: false }, quiet: { type: 'boolean', short: 'q', default: false } },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw usageError('dump', 'Which record folder? usage: gil-nvtx dump DIR.');
  const pid = await requestDump(positionals[0]!);
  if (!values.quiet) process.stderr.write(`gil-nvtx dump: asked the recorder (pid ${pid}) for a dump\n`);
  return 0;
}
