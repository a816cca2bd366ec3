import { parseArgs, type ParseArgsConfig } from 'node:util';
import { GilNvtxError } from '../errors.js';

/** `parseArgs` whose mistakes are exit-2 errors pointing at the command's `--help`. */
export function parseCommandArgs<T extends ParseArgsConfig>(command: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new GilNvtxError((err as Error).message, { hint: `Run \`gil-nvtx ${command} --help\` for the options.`, exitCode: 2 });
  }
}

/** `--top` as `report` and `profile` take it: a whole number ≥ 0. */
export function parseTop(value: string | undefined, fallback = 10): number {
  const top = value === undefined ? fallback : Number(value);
  if (!Number.isInteger(top) || top < 0) throw new GilNvtxError(`--top wants a whole number ≥ 0, not '${value}'.`, { exitCode: 2 });
  return top;
}
