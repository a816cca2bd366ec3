import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GilNvtxError } from '../errors.js';
import { hasGilNvtxSymbol, readStamp, type BuildStamp } from './build.js';
import { findExecutable } from '../executables.js';
import { capture } from './exec.js';

export interface PythonInfo {
  executable: string;
  version: string;
  prefix: string;
  /** Built free-threaded (`Py_GIL_DISABLED`). */
  freeThreaded: boolean;
  /** The GIL is enabled in this run (always true for default builds). */
  gilEnabled: boolean;
  /** Value of `_Py_gil_nvtx_version` read through ctypes, or null when the symbol is absent. */
  patchVersion: string | null;
  /** From `nm` when ctypes could not tell (null: could not check). */
  patchedSymbol: boolean | null;
  stamp: BuildStamp | null;
  patched: boolean;
}

// ctypes.pythonapi is the interpreter's own symbol table (python is linked with -export-dynamic).
// The symbol is a `const char[]`, not a pointer: c_char_p.in_dll would read the text as an address
// and crash, so read the NUL-terminated bytes at the symbol's address instead.
const PROBE = `
import json, sys, sysconfig
out = {"executable": sys.executable, "version": sys.version.split()[0], "prefix": sys.prefix,
       "freeThreaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
       "gilEnabled": sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True,
       "patchVersion": None, "ctypes": True}
try:
    import ctypes
    try:
        sym = ctypes.c_char.in_dll(ctypes.pythonapi, "_Py_gil_nvtx_version")
        out["patchVersion"] = ctypes.string_at(ctypes.addressof(sym)).decode()
    except ValueError:
        pass
except ImportError:
    out["ctypes"] = False
print(json.dumps(out))
`;

/**
 * Asks an interpreter what it is and whether it carries the GIL NVTX patch. `python` is a path or, as
 * in a shell, a name looked up in PATH (`python3`).
 */
export async function inspectPython(python: string, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<PythonInfo> {
  const env = opts.env ?? process.env;
  const executable = findExecutable(python, env);
  if (!executable) {
    throw new GilNvtxError(`No such interpreter: ${python}${python.includes('/') ? ' (no executable file there)' : ' (not found in PATH)'}.`, { exitCode: 2 });
  }
  const r = await capture(executable, ['-I', '-c', PROBE], { env: { ...env, PYTHON_GIL_NVTX: '0' }, timeoutMs: opts.timeoutMs ?? 30_000 });
  if (r.code !== 0) {
    throw new GilNvtxError(`${python} did not run as a Python interpreter (${r.code === null ? 'crashed or timed out' : `exit ${r.code}`}).`, { hint: r.stderr.trim().split('\n').slice(-5).join('\n') || undefined, exitCode: 2 });
  }
  let probe: Omit<PythonInfo, 'stamp' | 'patched' | 'patchedSymbol'> & { ctypes: boolean };
  try {
    probe = JSON.parse(r.stdout.trim().split('\n').pop()!);
  } catch {
    throw new GilNvtxError(`${python} printed something unexpected: ${r.stdout.slice(0, 200)}`, { exitCode: 2 });
  }
  const stamp = readStamp(probe.prefix);
  const patchedSymbol = probe.patchVersion !== null ? true : await hasGilNvtxSymbol(probe.executable || executable);
  const { ctypes: _ctypes, ...info } = probe;
  return { ...info, stamp, patchedSymbol, patched: probe.patchVersion !== null || patchedSymbol === true };
}

export function stampPath(prefix: string): string | null {
  const p = join(prefix, 'gil-nvtx-build.json');
  return existsSync(p) ? p : null;
}

export function readText(p: string): string | null {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}
