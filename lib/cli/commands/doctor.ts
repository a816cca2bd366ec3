import { parseCommandArgs, usageError } from '../args.js';
import { runDoctor } from '../../python/doctor.js';

const HELP = `usage: gil-nvtx doctor [python] [--json]

Checks an interpreter (patched? version? free-threaded?), the NVTX headers, every nsys on the machine
(GIL_NVTX_NSYS, PATH, /opt/nsight-systems-*, NVIDIA's /opt/nvidia/nsight-systems/*, Debian's): its
version and whether it traces the GIL itself (--trace=python-gil); the one gil-nvtx runs is 'nsys'
(GIL_NVTX_NSYS or --nsys choose another), with its QdstrmImporter link; and the embedded collector.
Exits 1 when something required is missing.
`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs('doctor', { args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (parsed.values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (parsed.positionals.length > 1) throw usageError('doctor', 'doctor checks one interpreter at a time.');
  const report = await runDoctor(parsed.positionals[0]);
  if (parsed.values.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    const mark = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;
    const width = Math.max(...report.checks.map((c) => c.name.length));
    for (const c of report.checks) {
      process.stdout.write(`${mark[c.status]}  ${c.name.padEnd(width)}  ${c.detail.replace(/\n/g, `\n${' '.repeat(width + 8)}`)}\n`);
      if (c.hint && c.status !== 'ok') process.stdout.write(`${' '.repeat(width + 8)}${c.hint.replace(/\n/g, `\n${' '.repeat(width + 8)}`)}\n`);
    }
    process.stdout.write(report.ok ? 'doctor: everything required is in place\n' : 'doctor: something required is missing (FAIL above)\n');
  }
  return report.ok ? 0 : 1;
}
