import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cacheRoot } from './paths.js';

/**
 * The environment that compiles a CPython build through ccache, when ccache is installed (else none).
 * A changed patch gives every interpreter a new build folder, and the patch touches one object: with
 * paths taken relative to the build folders (CCACHE_BASEDIR, and no working folder in the hash) the
 * other objects come from the cache, so test interpreters and the benchmarks' patched/unpatched pairs
 * rebuild in about a third of the time. The cache lives beside the builds, in ~/.cache/gil-nvtx/ccache.
 * GIL_NVTX_NO_CCACHE=1 turns it off.
 */
export function ccacheEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (env.GIL_NVTX_NO_CCACHE === '1') return {};
  const found = spawnSync('sh', ['-c', 'command -v ccache'], { encoding: 'utf8', env }).stdout.trim();
  if (!found) return {};
  return {
    CC: `${found} ${env.CC ?? 'gcc'}`,
    CCACHE_DIR: join(cacheRoot(), 'ccache'),
    CCACHE_BASEDIR: join(cacheRoot(), 'build'),
    CCACHE_NOHASHDIR: '1',
    CCACHE_MAXSIZE: '3G',
  };
}
