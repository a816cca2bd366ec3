import { existsSync } from 'node:fs';
import { GilNvtxError } from '../errors.js';
import { patchFileFor } from './patches.js';

/** The patch for `version` (`patchFileFor` of lib/python/patches.ts), as an existing absolute path. */
export async function resolvePatchFile(version: string): Promise<string> {
  const file = patchFileFor(version);
  if (!existsSync(file)) throw new GilNvtxError(`The patch for CPython ${version} is missing: ${file}.`);
  return file;
}
