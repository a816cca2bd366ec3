// The one way every command reads its arguments: node:util's parseArgs, and one-line exit-2 errors for
// every mistake in how a command was called, each pointing at that command's --help.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { GilNvtxError } from '../errors.js';

/** A mistake in how `gil-nvtx <command>` was called: one line on stderr, exit status 2. */
export function usageError(command: string, problem: string): GilNvtxError {
  return new GilNvtxError(`${problem} See \`gil-nvtx ${command} --help\`.`, { exitCode: 2 });
}

/** `parseArgs` (strict: unknown options and missing values are errors) with usage errors. */
export function parseCommandArgs<T extends ParseArgsConfig>(command: string, config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const e = err as Error & { code?: string };
    // Node's own wording runs over several lines and, for an unknown option, on about positionals.
    const message = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? e.message.replace(/\. To specify a positional[\s\S]*$/, '.') : e.message;
    throw usageError(command, message.replace(/\s*\n\s*/g, ' '));
  }
}

/**
 * A whole-number option written as digits only: '' , ' 3', '1e3', '0x10' and '-1' are errors, not
 * the numbers `Number()` would make of them. `undefined` (not given) is `fallback`.
 */
export function wholeNumberOption(command: string, flag: string, value: string | undefined, range: { min?: number; max?: number; fallback: number }): number {
  if (value === undefined) return range.fallback;
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) {
    const wanted = range.max === undefined ? `≥ ${min}` : `from ${min} to ${max}`;
    throw usageError(command, `${flag} wants a whole number ${wanted}, not '${value}'.`);
  }
  return n;
}

/** A decimal option ≥ 0 ('2', '0.5', '.5'); '' and anything else are errors. */
export function decimalOption(command: string, flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^(\d+\.?\d*|\.\d+)$/.test(value)) throw usageError(command, `${flag} wants a number ≥ 0, not '${value}'.`);
  return Number(value);
}
