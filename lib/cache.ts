import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The one cache folder of gil-nvtx (tarballs by sha256, built interpreters, a fallback collector build):
 * `$GIL_NVTX_CACHE_DIR`, else `$XDG_CACHE_HOME/gil-nvtx`, else `~/.cache/gil-nvtx`.
 */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GIL_NVTX_CACHE_DIR) return env.GIL_NVTX_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'), 'gil-nvtx');
}
