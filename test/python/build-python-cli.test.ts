import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const cli = join(process.cwd(), 'bin', 'gil-nvtx.js');
const work = mkdtempSync(join(tmpdir(), 'gil-nvtx-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function gilNvtx(...args: string[]) {
  return spawnSync('node', [cli, ...args], {
    encoding: 'utf8',
    // any patch file will do: these runs stop before patching
    env: { ...process.env, GIL_NVTX_CACHE_DIR: join(work, 'cache'), GIL_NVTX_OFFLINE: '1', GIL_NVTX_NO_APT: '1', GIL_NVTX_PATCH_FILE: cli },
  });
}

describe('gil-nvtx build-python (CLI)', () => {
  it('--help explains the options and the source order', () => {
    const r = gilNvtx('build-python', '--help');
    expect(r.status).toBe(0);
    for (const opt of ['--prefix', '--tarball', '--jobs', '--disable-gil', '--pyenv', '--configure-arg', '--quiet']) expect(r.stdout).toContain(opt);
    expect(r.stdout).toMatch(/apt-get source --download-only/);
  });

  it('an unknown version exits 2 with the known releases of that minor', () => {
    const r = gilNvtx('build-python', '3.12.99', '--prefix', join(work, 'p'));
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("Unknown CPython version '3.12.99'");
    expect(r.stderr).toMatch(/Known 3\.12 releases: 3\.12\.0,/);
    expect(existsSync(join(work, 'p'))).toBe(false);
  });

  it('bad arguments exit 2 with a message', () => {
    expect(gilNvtx('build-python').stderr).toMatch(/Which CPython version\?/);
    expect(gilNvtx('build-python').status).toBe(2);
    const jobs = gilNvtx('build-python', '3.11.2', '--jobs', '0');
    expect(jobs.status).toBe(2);
    expect(jobs.stderr).toMatch(/--jobs wants a whole number ≥ 1, not '0'/);
    const unknown = gilNvtx('build-python', '3.11.2', '--frobnicate');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/frobnicate/);
    const both = gilNvtx('build-python', '3.11.2', '--pyenv', '--prefix', join(work, 'x'));
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--pyenv and --prefix exclude each other/);
  });

  it('a tarball that is not the release is refused with both hashes, nothing installed', () => {
    const r = gilNvtx('build-python', '3.11.2', '--tarball', cli, '--prefix', join(work, 'p2'));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`Checksum mismatch for ${cli}`);
    expect(r.stderr).toContain('expected sha256 2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849 (Python-3.11.2.tgz)');
    expect(existsSync(join(work, 'p2'))).toBe(false);
  });
});
