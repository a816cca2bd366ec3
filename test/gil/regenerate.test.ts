import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findRelease } from '../../lib/python/manifest.js';
import { patchFileFor } from '../../lib/python/patches.js';
import { cachedTarballPath } from '../../lib/python/paths.js';
import { REQUIRE_PYTHONS } from '../helpers/pythons.js';
// @ts-expect-error plain-JS generator (scripts/python), no type declarations
import { makePatch } from '../../scripts/python/gil-hooks.mjs';

// The committed patches are generated: regenerating them from the real release tarballs must give
// the same bytes (for the release each was generated from), and every other release we have must
// take the patch cleanly (no fuzz) at the same hook lines. The tarballs are in the cache once the
// test interpreters were built (CI: test/global-setup.ts); locally a missing one is a skip.
const SOURCES: { version: string; generatedFrom: boolean }[] = [
  { version: '3.9.2', generatedFrom: true },
  { version: '3.11.2', generatedFrom: true },
  { version: '3.13.5', generatedFrom: false },
  { version: '3.13.15', generatedFrom: true },
];

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

function unpack(version: string): string | null {
  const t = findRelease(version).preferred;
  const tarball = cachedTarballPath(t.sha256, t.file);
  if (!existsSync(tarball)) {
    if (process.env[REQUIRE_PYTHONS] === '1') throw new Error(`${tarball} is missing although ${REQUIRE_PYTHONS}=1`);
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), `gil-regen-${version}-`));
  scratch.push(dir);
  const run = spawnSync('tar', ['xf', tarball, '-C', dir], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  return join(dir, readdirSync(dir)[0]!);
}

const addedLines = (patch: string) => patch.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'));

describe('patches regenerate from real CPython sources', () => {
  for (const s of SOURCES) {
    const t = findRelease(s.version).preferred;
    const present = existsSync(cachedTarballPath(t.sha256, t.file)) || process.env[REQUIRE_PYTHONS] === '1';
    it.skipIf(!present)(`CPython ${s.version}: ${s.generatedFrom ? 'identical patch' : 'same hooks, applies without fuzz'}`, () => {
      const root = unpack(s.version)!;
      const committed = readFileSync(patchFileFor(s.version), 'utf8');
      const regenerated = makePatch(root).patch as string;
      if (s.generatedFrom) expect(regenerated).toBe(committed);
      else expect(addedLines(regenerated)).toEqual(addedLines(committed));
      const run = spawnSync('patch', ['-p1', '--dry-run'], { cwd: root, input: committed, encoding: 'utf8' });
      expect(run.status, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).not.toMatch(/fuzz|FAILED|rejects/);
    }, 120_000);
  }
});
