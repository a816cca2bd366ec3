import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheRoot } from '../../lib/cache.js';
import { readStamp, requireGilNvtxSymbol } from '../../lib/python/build.js';
import { REQUIRE_PYTHONS } from '../helpers/pythons.js';

// build-python's last check: the installed interpreter must carry the patch's `_Py_gil_nvtx_version`
// (patches/src/ceval_gil_nvtx.h), or the build is refused. Checked here on small ELF files made with cc,
// on the stock interpreter, and on a patched one when this machine has built one.
const work = mkdtempSync(join(tmpdir(), 'gil-nvtx-instrumented-'));
function cc(out: string, source: string, ...flags: string[]): string {
  mkdirSync(join(out, '..'), { recursive: true });
  execFileSync('cc', ['-x', 'c', '-', '-o', out, ...flags], { input: source });
  return out;
}

/** A patched test interpreter built earlier on this machine (stamped as carrying the symbol), if any. */
function builtPatchedPython(): string | null {
  const dir = join(cacheRoot(), 'test-pythons');
  if (!existsSync(dir)) return null;
  for (const entry of readdirSync(dir)) {
    const stamp = readStamp(join(dir, entry));
    if (stamp?.patchedSymbol === true && stamp.python && existsSync(join(dir, entry, stamp.python))) return join(dir, entry, stamp.python);
  }
  return null;
}

describe('requireGilNvtxSymbol', () => {
  it('accepts a binary, or the libpython beside it, that exports _Py_gil_nvtx_version', async () => {
    await expect(requireGilNvtxSymbol(cc(join(work, 'static', 'bin', 'python3.99'), 'int _Py_gil_nvtx_version = 1; int main(void) { return 0; }'))).resolves.toBeUndefined();
    const shared = join(work, 'shared');
    cc(join(shared, 'lib', 'libpython3.99.so'), 'int _Py_gil_nvtx_version = 1;', '-shared', '-fPIC');
    await expect(requireGilNvtxSymbol(cc(join(shared, 'bin', 'python3.99'), 'int main(void) { return 0; }'))).resolves.toBeUndefined();
  });

  it('refuses an uninstrumented binary with one line', async () => {
    const plain = cc(join(work, 'plain', 'bin', 'python3.99'), 'int main(void) { return 0; }');
    await expect(requireGilNvtxSymbol(plain)).rejects.toThrow(/does not carry the patch's _Py_gil_nvtx_version symbol/);
  });

  it('refuses the stock interpreter', async () => {
    await expect(requireGilNvtxSymbol('/usr/bin/python3')).rejects.toMatchObject({ exitCode: 2 });
  });

  const patched = builtPatchedPython();
  // CI builds the patched interpreters before the tests (REQUIRE_PYTHONS); there it must be found.
  it.skipIf(patched === null && process.env[REQUIRE_PYTHONS] !== '1')('accepts a patched CPython build', async () => {
    expect(patched).not.toBeNull();
    await expect(requireGilNvtxSymbol(patched!)).resolves.toBeUndefined();
  });
});
