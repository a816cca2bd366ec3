import { createRequire } from 'node:module';
import { GilNvtxError } from './errors.js';

// The lookup itself is plain CommonJS so that binding.gyp can run it at install time, before TypeScript
// is compiled; lib/ and dist/ both sit one level under the package root.
const require = createRequire(import.meta.url);
const impl = require('../scripts/nvtx-headers.cjs') as {
  findNvtxHeaders(env?: NodeJS.ProcessEnv): NvtxHeaderLocation;
};

export interface NvtxHeaderLocation {
  /** Folder that contains `nvtx3/nvToolsExt.h`. */
  includeDir: string;
  /** Which rule found it: `NVTX_INCLUDE_DIR`, `CUDA`, `Nsight Systems` or `system`. */
  source: string;
  tried: { source: string; dir: string }[];
}

export function findNvtxHeaders(env: NodeJS.ProcessEnv = process.env): NvtxHeaderLocation {
  try {
    return impl.findNvtxHeaders(env);
  } catch (err) {
    throw new GilNvtxError((err as Error).message, { exitCode: 2 });
  }
}
