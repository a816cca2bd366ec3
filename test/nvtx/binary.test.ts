// The addon build: one source list (native/build.json) that covers every C++ file, and a binary that
// declares Node-API 9 (a higher number crashes Node 20 at load) and keeps NVTX's
// symbols to itself (-fvisibility=hidden).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from './helpers.js';

const manifest = JSON.parse(readFileSync(join(ROOT, 'native', 'build.json'), 'utf8')) as {
  addon: { sources: string[]; defines: string[] };
};
let binary: string;

beforeAll(() => {
  ensureBuilt();
  binary = [join(ROOT, 'build', 'Release', 'gil_nvtx.node'), join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`, 'gil-nvtx.node')].find(existsSync)!;
});

it('native/build.json lists exactly the C++ files under native/addon', () => {
  const onDisk = readdirSync(join(ROOT, 'native', 'addon')).filter((f) => f.endsWith('.cc')).map((f) => `native/addon/${f}`).sort();
  expect([...manifest.addon.sources].sort()).toEqual(onDisk);
});

it('pins NAPI_VERSION=9 and never NAPI_EXPERIMENTAL', () => {
  expect(manifest.addon.defines).toContain('NAPI_VERSION=9');
  expect(manifest.addon.defines.join(' ')).not.toContain('NAPI_EXPERIMENTAL');
  expect(readFileSync(join(ROOT, 'binding.gyp'), 'utf8')).not.toContain('napi_build_version');
});

it('the binary reports Node-API 9 and exports no NVTX symbols', () => {
  const disassembly = spawnSync('objdump', ['-d', '--disassemble=node_api_module_get_api_version_v1', binary], { encoding: 'utf8' });
  expect(disassembly.status, disassembly.stderr).toBe(0);
  expect(disassembly.stdout).toMatch(/<node_api_module_get_api_version_v1>:\s*\n\s*[0-9a-f]+:\s+b8 09 00 00 00\s+mov\s+\$0x9,%eax/);
  const symbols = spawnSync('nm', ['-D', '--defined-only', binary], { encoding: 'utf8' });
  expect(symbols.status, symbols.stderr).toBe(0);
  expect(symbols.stdout).toContain('napi_register_module_v1');
  expect(symbols.stdout.split('\n').filter((l) => /nvtx/i.test(l))).toEqual([]);
});
