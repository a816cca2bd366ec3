import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirs } from '../../lib/make-dirs.js';

// procfs answers mkdir of a missing name with ENOENT although the parent exists; Node's recursive
// mkdir retried that for ever. The `timeout` only ends a regression's spin; no duration is asserted.
const CLI = join(import.meta.dirname, '../../bin/gil-nvtx.js');
const work = mkdtempSync(join(tmpdir(), 'gil-nvtx-unmakeable-'));
const gilNvtx = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, CI: '', GIL_NVTX_CACHE_DIR: join(work, 'cache'), GIL_NVTX_OFFLINE: '1', GIL_NVTX_NO_APT: '1' },
  });

describe('folders that cannot be made', () => {
  it('trace -o /proc/x fails at once with one line', () => {
    const r = gilNvtx('trace', '-o', '/proc/gil-nvtx-x', '--', 'true');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^gil-nvtx trace: Cannot prepare the trace folder \/proc\/gil-nvtx-x: ENOENT/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('build-python --prefix /proc/x/py fails at once with one line', () => {
    const r = gilNvtx('build-python', '3.11.2', '--prefix', '/proc/gil-nvtx-x/py');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^gil-nvtx build-python: Cannot install into \/proc\/gil-nvtx-x\/py: \/proc\/gil-nvtx-x is not writable \(ENOENT\)/);
  });

  it('makeDirs makes missing folders, accepts existing ones, and says ENOTDIR under a file', () => {
    makeDirs(join(work, 'a', 'b', 'c'));
    makeDirs(join(work, 'a', 'b'));
    writeFileSync(join(work, 'file'), '');
    expect(() => makeDirs(join(work, 'file', 'sub'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
    expect(() => makeDirs('/proc/gil-nvtx-x/y')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});
