// The NVTX header lookup that binding.gyp runs at build time (scripts/nvtx-headers.cjs): found, a wrong
// NVTX_INCLUDE_DIR, and nothing found anywhere. Each failure must name what was tried and what to set.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { findNvtxHeaders } from '../../lib/nvtx-headers.js';
import { isGilNvtxError } from '../../lib/errors.js';
import { FIXTURES, ROOT, runNode } from './helpers.js';

const SCRIPT = join(ROOT, 'scripts', 'nvtx-headers.cjs');

it('binding.gyp takes its NVTX include dir from scripts/nvtx-headers.cjs', () => {
  expect(readFileSync(join(ROOT, 'binding.gyp'), 'utf8')).toContain("'<!(node scripts/nvtx-headers.cjs)'");
});

it('finds the headers on this machine and says which rule found them', () => {
  const found = findNvtxHeaders();
  expect(readFileSync(join(found.includeDir, 'nvtx3', 'nvToolsExt.h'), 'utf8')).toContain('nvtxDomainRangePushEx');
  expect(['NVTX_INCLUDE_DIR', 'CUDA', 'Nsight Systems', 'system']).toContain(found.source);
});

it('each rule names itself: NVTX_INCLUDE_DIR before CUDA_HOME before the rest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-headers-'));
  try {
    for (const root of ['own', 'cuda/include']) {
      mkdirSync(join(dir, root, 'nvtx3'), { recursive: true });
      writeFileSync(join(dir, root, 'nvtx3', 'nvToolsExt.h'), '');
    }
    const env = { ...process.env, NVTX_INCLUDE_DIR: '', CUDA_PATH: '' };
    expect(findNvtxHeaders({ ...env, NVTX_INCLUDE_DIR: join(dir, 'own'), CUDA_HOME: join(dir, 'cuda') })).toMatchObject({ includeDir: join(dir, 'own'), source: 'NVTX_INCLUDE_DIR' });
    expect(findNvtxHeaders({ ...env, CUDA_HOME: join(dir, 'cuda') })).toMatchObject({ includeDir: join(dir, 'cuda', 'include'), source: 'CUDA' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('NVTX_INCLUDE_DIR pointing nowhere is an error, not a silent fallback', async () => {
  let caught: unknown;
  try {
    findNvtxHeaders({ ...process.env, NVTX_INCLUDE_DIR: '/nonexistent/nvtx' });
  } catch (err) {
    caught = err;
  }
  expect(isGilNvtxError(caught)).toBe(true);
  expect((caught as Error).message).toContain('NVTX_INCLUDE_DIR=/nonexistent/nvtx');
  const cli = await runNode(SCRIPT, [], { NVTX_INCLUDE_DIR: '/nonexistent/nvtx' });
  expect(cli.code).toBe(1);
  expect(cli.stdout).toBe('');
  expect(cli.stderr).toContain('NVTX_INCLUDE_DIR=/nonexistent/nvtx');
});

it('nothing found: one error naming every place tried and the variable to set', async () => {
  const cli = await runNode('--require', [join(FIXTURES, 'hide-nvtx-headers.cjs'), SCRIPT], { CUDA_HOME: '/opt/my-cuda', NVTX_INCLUDE_DIR: '' });
  expect(cli.code).toBe(1);
  expect(cli.stdout).toBe('');
  for (const expected of [
    'NVTX v3 headers not found',
    '/opt/my-cuda/include/nvtx3/nvToolsExt.h (CUDA)',
    '/usr/local/cuda/include/nvtx3/nvToolsExt.h (CUDA)',
    'target-linux-x64/nvtx/include/nvtx3/nvToolsExt.h (Nsight Systems)',
    '/usr/include/nvtx3/nvToolsExt.h (system)',
    'NVTX_INCLUDE_DIR',
  ]) {
    expect(cli.stderr).toContain(expected);
  }
});
