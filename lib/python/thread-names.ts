// Python thread names for NVTX tools: build-python compiles patches/src/gil_nvtx_module.c against the
// interpreter it just installed (into the staging folder) and puts it, gil_nvtx_threads.py and the
// .pth file that loads it at start-up into site-packages. The interpreter then names every
// threading.Thread's OS thread with its Python name (nvtxNameOsThreadA), on every supported version;
// nothing names OS threads after Python threads before 3.14, and 3.14's own names stop at 15 bytes.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GilNvtxError } from '../errors.js';
import { runLogged } from './exec.js';
import { PATCH_DIR } from './patches.js';

export const THREAD_NAMES_SOURCES = ['src/gil_nvtx_module.c', 'src/gil_nvtx_threads.py'].map((f) => join(PATCH_DIR, f));
const PTH = 'gil_nvtx_threads.pth';

/** sha256 over the sources installed beside the interpreter: part of a build's identity. */
export function threadNamesSha256(): string {
  const h = createHash('sha256');
  for (const f of THREAD_NAMES_SOURCES) h.update(readFileSync(f));
  return h.digest('hex');
}

/** `EXT_SUFFIX` of an installed CPython, from the Makefile it installs under lib/python3.X/config-*. */
function extSuffix(stdlib: string): string {
  const config = readdirSync(stdlib).find((n) => n.startsWith('config-') && existsSync(join(stdlib, n, 'Makefile')));
  const m = config ? /^EXT_SUFFIX=\s*(\S+)\s*$/m.exec(readFileSync(join(stdlib, config, 'Makefile'), 'utf8')) : null;
  if (!m) throw new GilNvtxError(`No config-*/Makefile with EXT_SUFFIX under ${stdlib}; cannot build the thread-naming module.`);
  return m[1]!;
}

/** The one folder under `dir` whose name starts with `python3.` (python3.13t for free-threaded builds). */
function onlyPythonDir(dir: string): string {
  const found = existsSync(dir) ? readdirSync(dir).filter((n) => /^python3\.\d+t?$/.test(n)) : [];
  if (found.length !== 1) throw new GilNvtxError(`Expected one python3.* folder in ${dir}, found ${found.length}; cannot install the thread-naming module.`);
  return join(dir, found[0]!);
}

/**
 * Builds `_gil_nvtx` against the staged install at `staged` (headers from `staged/include`) and installs
 * it with the start-up hook into its site-packages.
 */
export async function installThreadNames(staged: string, nvtxIncludeDir: string, log: string): Promise<void> {
  const include = onlyPythonDir(join(staged, 'include'));
  const stdlib = onlyPythonDir(join(staged, 'lib'));
  const site = join(stdlib, 'site-packages');
  const [moduleSource, threadsSource] = THREAD_NAMES_SOURCES as [string, string];
  const out = join(site, `_gil_nvtx${extSuffix(stdlib)}`);
  const cc = await runLogged(process.env.CC ?? 'cc', ['-shared', '-fPIC', '-O2', '-Wall', `-I${include}`, `-I${nvtxIncludeDir}`, moduleSource, '-o', out], { log });
  if (cc.code !== 0) {
    throw new GilNvtxError(`Compiling the thread-naming module ${moduleSource} failed (exit ${cc.code}).`, { hint: `Full log: ${log}\n${cc.tail.map((l) => `  ${l}`).join('\n')}` });
  }
  copyFileSync(threadsSource, join(site, 'gil_nvtx_threads.py'));
  // site.py runs a .pth line that starts with "import"; PYTHON_GIL_NVTX_THREAD_NAMES=0 skips it.
  writeFileSync(join(site, PTH), "import os; os.environ.get('PYTHON_GIL_NVTX_THREAD_NAMES') == '0' or __import__('gil_nvtx_threads')\n");
}
