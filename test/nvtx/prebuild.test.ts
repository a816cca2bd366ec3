// An installed copy that has only a prebuild (prebuildify's layout: prebuilds/linux-x64/gil-nvtx.node) and
// no build/ folder loads through node-gyp-build with PREBUILDS_ONLY=1, via the package's "exports".
// `npm run prebuild` produces such a file; this test lays one out from the local build so it runs in
// seconds (test/package/install-tarball.test.ts takes the real one through `npm pack`).
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureBuilt, lastJson, ROOT, runNode } from './helpers.js';

let project: string;

beforeAll(() => {
  ensureBuilt();
  project = mkdtempSync(join(tmpdir(), 'gil-nvtx-prebuild-'));
  const pkg = join(project, 'node_modules', 'gil-nvtx');
  mkdirSync(join(pkg, 'prebuilds', `${process.platform}-${process.arch}`), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
  // A checkout may have only the prebuilds (`npm run prebuild`), so take whichever exists.
  const built = [join(ROOT, 'build', 'Release', 'gil_nvtx.node'), join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`, 'gil-nvtx.glibc.node')];
  const source = built.find((f) => existsSync(f));
  if (!source) throw new Error('no built addon: run `npm run build:native`');
  cpSync(source, join(pkg, 'prebuilds', `${process.platform}-${process.arch}`, 'gil-nvtx.node'));
  symlinkSync(join(ROOT, 'node_modules', 'node-gyp-build'), join(project, 'node_modules', 'node-gyp-build'));
  writeFileSync(
    join(project, 'main.mjs'),
    `import * as nvtx from 'gil-nvtx';\n` +
      `const d = nvtx.domain('prebuilt');\n` +
      `d.range('x', () => d.mark('y'));\n` +
      `console.log(JSON.stringify({ status: nvtx.status(), stats: nvtx.nativeStats() }));\n`,
  );
});

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

it('loads prebuilds/<platform>-<arch>/gil-nvtx.node with PREBUILDS_ONLY=1', async () => {
  const result = await runNode(join(project, 'main.mjs'), [], { PREBUILDS_ONLY: '1', GIL_NVTX_FORCE_NATIVE: '1' });
  expect(result.signal).toBeNull();
  expect(result.code, result.stderr).toBe(0);
  const out = lastJson<{ status: { mode: string; addonPath: string }; stats: { domains: number } }>(result);
  expect(out.status.mode).toBe('native');
  expect(out.status.addonPath).toBe(join(project, 'node_modules', 'gil-nvtx', 'prebuilds', `${process.platform}-${process.arch}`, 'gil-nvtx.node'));
  expect(out.stats.domains).toBe(1);
});
