import { homedir } from 'node:os';
import { join } from 'node:path';
import { cacheRoot } from '../cache.js';

export { cacheRoot };

/** The team-wide tarball cache layout: `<cache>/tarballs/<sha256>/<upstream file name>`. */
export function cachedTarballPath(sha256: string, file: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheRoot(env), 'tarballs', sha256, file);
}

/** Name of an installed build: `3.13.5` or `3.13.5t` for a free-threaded one (CPython's own `t` suffix). */
export function buildName(version: string, disableGil: boolean): string {
  return `${version}${disableGil ? 't' : ''}`;
}

/** Where `build-python` installs when no `--prefix` is given: `~/.local/share/gil-nvtx/pythons/<name>`. */
export function defaultPrefix(version: string, opts: { disableGil?: boolean } = {}, env: NodeJS.ProcessEnv = process.env): string {
  const data = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'gil-nvtx', 'pythons', buildName(version, opts.disableGil ?? false));
}
