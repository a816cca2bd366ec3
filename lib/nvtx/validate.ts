// Argument checks done in JS, where a typeof test is nearly free. The wording matches the addon's
// (native/addon/check.h), which stays as the backstop for calls that reach it directly.

export function argError(fn: string, index: number, name: string, expected: string, range = false): Error {
  const message = `gil-nvtx: ${fn}(): argument ${index} (${name}) must be ${expected}`;
  const err = range ? new RangeError(message) : new TypeError(message);
  (err as Error & { code: string }).code = range ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE';
  return err;
}

export function checkString(value: unknown, fn: string, index: number, name: string): asserts value is string {
  if (typeof value !== 'string') throw argError(fn, index, name, 'a string');
}

export function checkUint32(value: unknown, fn: string, index: number, name: string): asserts value is number {
  if (typeof value !== 'number') throw argError(fn, index, name, 'a number (uint32)');
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw argError(fn, index, name, 'an integer from 0 to 4294967295', true);
  }
}

export function checkFunction(value: unknown, fn: string, index: number, name: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw argError(fn, index, name, 'a function');
}
