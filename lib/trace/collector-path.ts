import { existsSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GilNvtxError } from '../errors.js';

export const COLLECTOR_FILE = 'gil_nvtx_collector.so';

// lib/trace and dist/trace both sit two levels under the package root.
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Where a built collector can be, in the order they are tried. */
export function collectorCandidates(root: string = PACKAGE_ROOT, env: NodeJS.ProcessEnv = process.env): string[] {
  const list: string[] = [];
  if (env.GIL_NVTX_COLLECTOR) list.push(env.GIL_NVTX_COLLECTOR);
  list.push(
    join(root, 'build', 'Release', COLLECTOR_FILE), // npm install / npm run build:native (node-gyp)
    join(root, 'build', 'Debug', COLLECTOR_FILE),
    join(root, 'prebuilds', `${platform()}-${arch()}`, COLLECTOR_FILE),
    join(root, 'build-cmake', COLLECTOR_FILE), // cmake -S . -B build-cmake
  );
  return list;
}

/** The collector library to put in NVTX_INJECTION64_PATH; explains how to build it when missing. */
export function findCollector(env: NodeJS.ProcessEnv = process.env, root: string = PACKAGE_ROOT): string {
  const tried = collectorCandidates(root, env);
  const found = tried.find((p) => existsSync(p));
  if (found) return found;
  throw new GilNvtxError(`The gil-nvtx collector library (${COLLECTOR_FILE}) is not built. Looked in:\n${tried.map((p) => `  ${p}`).join('\n')}`, {
    hint:
      'Build it with `npm run build:native` (node-gyp, in the package folder), or with CMake: ' +
      '`cmake -S . -B build-cmake && cmake --build build-cmake`. Both need the NVTX v3 headers ' +
      '(`node scripts/nvtx-headers.cjs` says where it looks). Or point GIL_NVTX_COLLECTOR at a built copy.',
    exitCode: 2,
  });
}
