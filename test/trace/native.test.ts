import { execFileSync, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT, scratchDir } from './helpers.js';

describe('collector native unit tests (CMake + ctest, sources from native/build.json)', () => {
  it('configure, build and pass ctest', () => {
    const dir = scratchDir('cmake');
    execFileSync('cmake', ['-S', ROOT, '-B', dir], { stdio: 'pipe' });
    execFileSync('cmake', ['--build', dir], { stdio: 'pipe' });
    const r = spawnSync('ctest', ['--test-dir', dir, '--output-on-failure'], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/100% tests passed, 0 tests failed out of [1-9]/);
    expect(r.status).toBe(0);
  }, 300_000);

  it('exports only InitializeInjectionNvtx2', () => {
    const dir = scratchDir('cmake-nm');
    execFileSync('cmake', ['-S', ROOT, '-B', dir], { stdio: 'pipe' });
    execFileSync('cmake', ['--build', dir, '--target', 'gil_nvtx_collector'], { stdio: 'pipe' });
    const symbols = execFileSync('nm', ['-D', '--defined-only', `${dir}/gil_nvtx_collector.so`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .map((l) => l.split(' ').pop());
    expect(symbols).toEqual(['InitializeInjectionNvtx2']);
  }, 300_000);
});
