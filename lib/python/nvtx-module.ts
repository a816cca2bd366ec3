// The `gil_nvtx` Python module (native/python/gil_nvtx.c): NVTX ranges and marks for Python code, so that
// a worker can tie its jobs to the Node requests that sent them. It is built against an installed
// interpreter, with that interpreter's own sysconfig (include folder, EXT_SUFFIX, site-packages), as a
// step of its own after the install: it is not part of a build's identity, so adding or changing it
// never invalidates interpreters already built and cached. Each use of an install (build-python reusing
// one, the test helpers, the demo) builds the module when it is missing or older than its source.
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GilNvtxError } from '../errors.js';
import { findNvtxHeaders } from '../nvtx-headers.js';
import { capture, runLogged } from './exec.js';

export const NVTX_MODULE_NAME = 'gil_nvtx';
export const NVTX_MODULE_SOURCE = fileURLToPath(new URL('../../native/python/gil_nvtx.c', import.meta.url));
/** Beside the module in site-packages: what it was built from, so a changed source rebuilds it. */
const STAMP = `${NVTX_MODULE_NAME}.build.json`;

interface Sysconfig {
  include: string;
  site: string;
  extSuffix: string;
}

interface ModuleStamp {
  sourceSha256: string;
  nvtxIncludeDir: string;
}

export interface NvtxModuleResult {
  /** The installed extension module. */
  path: string;
  /** False when an up-to-date build was already there. */
  built: boolean;
}

const SYSCONFIG_SCRIPT =
  "import json, sysconfig; p = sysconfig.get_paths(); print(json.dumps([p['include'], p['platlib'], sysconfig.get_config_var('EXT_SUFFIX')]))";

async function sysconfigOf(python: string, env: NodeJS.ProcessEnv): Promise<Sysconfig> {
  // -I -S: the interpreter's own paths, whatever PYTHONPATH or user site-packages say.
  const r = await capture(python, ['-I', '-S', '-c', SYSCONFIG_SCRIPT], { env });
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.stdout.trim());
  } catch {
    parsed = null;
  }
  if (r.code !== 0 || !Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((s) => typeof s === 'string' && s.length > 0)) {
    throw new GilNvtxError(`Could not read the sysconfig of ${python} to build the ${NVTX_MODULE_NAME} module (exit ${r.code}).`, {
      hint: r.stderr.trim() || r.stdout.trim() || undefined,
    });
  }
  const [include, site, extSuffix] = parsed as [string, string, string];
  return { include, site, extSuffix };
}

function sourceSha256(nvtxIncludeDir: string): string {
  return createHash('sha256').update(readFileSync(NVTX_MODULE_SOURCE)).update(`\0${nvtxIncludeDir}`).digest('hex');
}

function readModuleStamp(path: string): ModuleStamp | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ModuleStamp;
  } catch {
    return null;
  }
}

/**
 * Builds and installs `gil_nvtx` into the site-packages of `python` unless an up-to-date build is there.
 * Seconds of work; safe to run from several processes at once (each compiles to a file of its own and
 * renames it into place).
 */
export async function ensureNvtxModule(python: string, opts: { env?: NodeJS.ProcessEnv; log?: string } = {}): Promise<NvtxModuleResult> {
  const env = opts.env ?? process.env;
  const { include, site, extSuffix } = await sysconfigOf(python, env);
  const path = join(site, `${NVTX_MODULE_NAME}${extSuffix}`);
  const stampPath = join(site, STAMP);
  const have = existsSync(path) ? readModuleStamp(stampPath) : null;
  let nvtxIncludeDir: string;
  try {
    nvtxIncludeDir = findNvtxHeaders(env).includeDir;
  } catch (err) {
    // Headers gone since (another shell, CUDA removed): a module built from this source still serves.
    if (have && have.sourceSha256 === sourceSha256(have.nvtxIncludeDir)) return { path, built: false };
    throw err;
  }
  const wanted: ModuleStamp = { sourceSha256: sourceSha256(nvtxIncludeDir), nvtxIncludeDir };
  if (have?.sourceSha256 === wanted.sourceSha256) return { path, built: false };

  const log = opts.log ?? join(tmpdir(), `gil-nvtx-${NVTX_MODULE_NAME}-${process.pid}.log`);
  const tmp = join(site, `.${NVTX_MODULE_NAME}.${process.pid}-${randomUUID().slice(0, 8)}.tmp${extSuffix}`);
  try {
    // CC as make takes it: a command line (`ccache gcc`), the default compiler when unset or blank.
    const [compiler, ...ccArgs] = (env.CC?.trim() || 'cc').split(/\s+/) as [string, ...string[]];
    const cc = await runLogged(
      compiler,
      [...ccArgs, '-shared', '-fPIC', '-O2', '-Wall', '-fvisibility=hidden', `-I${include}`, `-I${nvtxIncludeDir}`, NVTX_MODULE_SOURCE, '-o', tmp],
      { log, env },
    );
    if (cc.code !== 0) {
      throw new GilNvtxError(`Compiling the ${NVTX_MODULE_NAME} module for ${python} failed (exit ${cc.code}).`, {
        hint: `Full log: ${log}\n${cc.tail.map((l) => `  ${l}`).join('\n')}`,
      });
    }
    renameSync(tmp, path);
    const stampTmp = `${tmp}.json`;
    writeFileSync(stampTmp, JSON.stringify(wanted, null, 2) + '\n');
    renameSync(stampTmp, stampPath);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { path, built: true };
}

export interface NvtxModuleStatus {
  /** Where `import gil_nvtx` finds it; null when it does not import. */
  path: string | null;
  /** Built from this gil-nvtx's source (its stamp says so); null when it does not import or has no stamp. */
  current: boolean | null;
  /** Why it did not import: the last line Python printed. */
  error: string | null;
}

const IMPORT_SCRIPT = `import ${NVTX_MODULE_NAME}; print(${NVTX_MODULE_NAME}.__file__)`;

/** Whether `python` imports the module, from where, and whether that build is of the current source. */
export async function nvtxModuleStatus(python: string, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<NvtxModuleStatus> {
  // -I: the interpreter's own site-packages, whatever PYTHONPATH says; no GIL ranges from the probe.
  const r = await capture(python, ['-I', '-c', IMPORT_SCRIPT], { env: { ...(opts.env ?? process.env), PYTHON_GIL_NVTX: '0' }, timeoutMs: opts.timeoutMs ?? 30_000 });
  const path = r.code === 0 ? r.stdout.trim().split('\n').pop() || null : null;
  if (!path) return { path: null, current: null, error: r.stderr.trim().split('\n').pop() || `exit ${r.code}` };
  const stamp = readModuleStamp(join(dirname(path), STAMP));
  return { path, current: stamp ? stamp.sourceSha256 === sourceSha256(stamp.nvtxIncludeDir) : null, error: null };
}

