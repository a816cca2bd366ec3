// A patched and an unpatched build of one CPython, same version and configure arguments (the unpatched
// one without the patch and -DPY_NVTX_GIL), built once into ~/.cache/gil-nvtx/bench/pythons/ and
// reused: what the benchmarks compare "the patch" and "no patch" with.
import { buildPython, defaultDemoVersion } from '../../dist/python/build.js';
import { ccacheEnv } from '../../dist/python/ccache.js';
import { cacheRoot } from '../../dist/python/paths.js';
import { join } from 'node:path';

export async function pythonPair(version = defaultDemoVersion()) {
  const pair = {};
  for (const unpatched of [false, true]) {
    const prefix = join(cacheRoot(), 'bench', 'pythons', `${version}-${unpatched ? 'unpatched' : 'patched'}`);
    process.stderr.write(`building or reusing ${unpatched ? 'an unpatched' : 'a patched'} CPython ${version} in ${prefix}…\n`);
    const r = await buildPython({ version, prefix, unpatched, quiet: true, env: { ...process.env, ...ccacheEnv() } });
    pair[unpatched ? 'unpatched' : 'patched'] = r.python;
  }
  return pair;
}
