import { parseCommandArgs, usageError } from '../args.js';
import { mergeTraceDir } from '../../trace/run.js';
import { mergeSummaryLines } from './trace.js';

const HELP = `usage: gil-nvtx merge DIR [-o FILE] [--keep-raw] [--quiet]

Merges DIR/raw (the per-process files the collector writes) into DIR/trace.sqlite, as \`gil-nvtx trace\`
does when its command ends. For a trace whose \`gil-nvtx trace\` died before merging (SIGKILL, a
closed terminal; its command runs on: merge once it has ended), or for programs started with the
collector's environment yourself. Then \`gil-nvtx report DIR\`.

options:
  -o, --output FILE  write the merged trace to FILE instead of DIR/trace.sqlite (another disk, when
                     DIR's is full)
  --keep-raw         keep DIR/raw after the merge
  -q, --quiet        no summary on stderr (also when CI=true)
  -h, --help         this text
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('merge', {
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      'keep-raw': { type: 'boolean', default: false },
      quiet: { type: 'boolean', short: 'q', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) {
    throw usageError('merge', positionals.length === 0 ? 'Which trace folder? usage: gil-nvtx merge DIR.' : `One trace folder at a time (got ${positionals.length}).`);
  }
  const r = await mergeTraceDir(positionals[0]!, { keepRaw: values['keep-raw'], output: values.output });
  if (!(values.quiet || process.env.CI === 'true')) process.stderr.write(`${mergeSummaryLines('merge', r.merge, r.database).join('\n')}\n`);
  return 0;
}
