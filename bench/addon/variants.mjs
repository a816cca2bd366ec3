// Loads the compiled API (dist/) twice in one process: once bound to the addon (forced native) and once to
// the JS no-op path, as two separate module instances. In real use a process has only one of the two, so
// each copy keeps its call sites monomorphic, as they would be in production.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function loadVariants() {
  const { loadNative } = await import(pathToFileURL(join(ROOT, 'dist', 'nvtx', 'native.js')).href);
  const probe = loadNative();
  if (!probe.binding) throw new Error(`the addon did not load (run \`npm run build:native\`):\n${probe.tried.join('\n')}`);
  const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-bench-'));
  const load = async (name, force) => {
    cpSync(join(ROOT, 'dist'), join(dir, name), { recursive: true });
    const saved = { force: process.env.GIL_NVTX_FORCE_NATIVE, path: process.env.GIL_NVTX_ADDON_PATH };
    process.env.GIL_NVTX_FORCE_NATIVE = force;
    process.env.GIL_NVTX_ADDON_PATH = probe.path;
    try {
      return await import(pathToFileURL(join(dir, name, 'index.js')).href);
    } finally {
      for (const [k, v] of [['GIL_NVTX_FORCE_NATIVE', saved.force], ['GIL_NVTX_ADDON_PATH', saved.path]]) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  };
  const native = await load('native', '1');
  const noop = await load('noop', '0');
  rmSync(dir, { recursive: true, force: true });
  if (native.status().mode !== 'native') throw new Error(`native copy is ${native.status().mode}`);
  if (noop.status().native) throw new Error('no-op copy loaded the addon');
  return { raw: probe.binding, addonPath: probe.path, native, noop };
}
