/**
 * An error a person can act on: what failed, the input that caused it, what to do next.
 * The CLI prints `message` (and `hint`) without a stack trace and exits with `exitCode`.
 */
export class GilNvtxError extends Error {
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GilNvtxError';
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

export function isGilNvtxError(err: unknown): err is GilNvtxError {
  return err instanceof GilNvtxError;
}
