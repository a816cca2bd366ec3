import { existsSync } from 'node:fs';
import { GilNvtxError } from '../errors.js';

interface PatchesModule {
  patchFileFor(version: string): string;
  SUPPORTED_MINORS: readonly string[];
}

// patches.ts belongs to the GIL-patch part; it is loaded by name so this module compiles and its
// errors stay clear while that file is still being written.
const PATCHES_MODULE = './patches.js';

/** The patch for `version` (`patchFileFor` of lib/python/patches.ts), as an existing absolute path. */
export async function resolvePatchFile(version: string): Promise<string> {
  let mod: PatchesModule;
  try {
    mod = (await import(PATCHES_MODULE)) as PatchesModule;
  } catch (err) {
    throw new GilNvtxError(`The GIL patch index (lib/python/patches.ts) could not be loaded: ${(err as Error).message}`, {
      hint: 'This checkout has no patches yet; pass a patch explicitly (GIL_NVTX_PATCH_FILE=<file>).',
    });
  }
  const file = mod.patchFileFor(version);
  if (!existsSync(file)) throw new GilNvtxError(`The patch for CPython ${version} is missing: ${file}.`);
  return file;
}
