import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildPython, readStamp } from '../../lib/python/build.js';
import { ccacheEnv } from '../../lib/python/ccache.js';
import { sha256File } from '../../lib/python/checksum.js';
import { withLock } from '../../lib/python/lock.js';
import { resolvePatchFile } from '../../lib/python/patch-file.js';
import { buildName, cacheRoot } from '../../lib/python/paths.js';

/** What CI builds, patches and traces; the suites run on each. */
export const CI_PYTHONS: { version: string; disableGil?: boolean }[] = [
  { version: '3.9.2' },
  { version: '3.11.2' },
  { version: '3.13.5' },
  { version: '3.13.5', disableGil: true },
  { version: '3.13.15' },
];

/** CI sets this: a patched interpreter that cannot be built is then a failure, not a skip. */
export const REQUIRE_PYTHONS = 'GIL_NVTX_REQUIRE_PYTHONS';

/**
 * The CI set, or the subset named in GIL_NVTX_TEST_PYTHONS (`3.11.2,3.13.5t`) so a local run can build
 * just one. Names use CPython's `t` suffix for free-threaded builds.
 */
export function testPythons(env: NodeJS.ProcessEnv = process.env): { version: string; disableGil?: boolean }[] {
  const only = env.GIL_NVTX_TEST_PYTHONS?.split(',').map((s) => s.trim()).filter(Boolean);
  if (!only || env[REQUIRE_PYTHONS] === '1') return CI_PYTHONS;
  return CI_PYTHONS.filter((p) => only.includes(buildName(p.version, p.disableGil ?? false)));
}

/**
 * Test interpreters live in ~/.cache/gil-nvtx/test-pythons/<name>-<patch sha256[:12]>: a changed patch
 * gets a new folder instead of replacing one that another test process may be running right now.
 */
export function testPythonPrefix(version: string, disableGil: boolean, patchSha256: string): string {
  return join(cacheRoot(), 'test-pythons', `${buildName(version, disableGil)}-${patchSha256.slice(0, 12)}`);
}

// Builds for patches that changed more than this long ago are removed when a newer one is built.
const STALE_MS = 2 * 3600_000;

function pruneStale(version: string, disableGil: boolean, keep: string): void {
  const dir = join(cacheRoot(), 'test-pythons');
  const prefix = `${buildName(version, disableGil)}-`;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (!entry.startsWith(prefix) || entry.endsWith('.lock') || path === keep || existsSync(`${path}.lock`)) continue;
    const builtAt = Date.parse(readStamp(path)?.builtAt ?? '');
    if (Number.isFinite(builtAt) && Date.now() - builtAt > STALE_MS) rmSync(path, { recursive: true, force: true });
  }
}

/**
 * Path of a patched interpreter for tests. Builds it once (lock-protected across vitest's worker
 * processes) and reuses it across runs while the patch file is unchanged. CPython's own test modules
 * stay in (no --disable-test-modules): the regression suites need _testcapi.
 */
export async function ensurePatchedPython(version: string, opts: { disableGil?: boolean } = {}): Promise<string> {
  const disableGil = opts.disableGil ?? false;
  const patchFile = process.env.GIL_NVTX_PATCH_FILE ?? (await resolvePatchFile(version));
  const patchSha256 = await sha256File(patchFile);
  const prefix = testPythonPrefix(version, disableGil, patchSha256);
  const label = buildName(version, disableGil);
  return withLock(`${prefix}.lock`, async () => {
    const quiet = process.env.CI === 'true';
    const started = Date.now();
    const build = () =>
      buildPython({
        version,
        prefix,
        disableGil,
        patchFile,
        quiet,
        env: { ...process.env, ...ccacheEnv() },
        onProgress: quiet ? () => {} : (stage, message) => process.stderr.write(`[test-pythons ${label}] [${stage}] ${message}\n`),
      });
    const r = await build().catch((err: unknown) => {
      if (/already exists and holds a different build/.test(String((err as Error).message))) {
        // same patch, other NVTX headers or flags: this folder is ours to replace
        rmSync(prefix, { recursive: true, force: true });
        return build();
      }
      throw err;
    });
    if (!r.reused) {
      process.stderr.write(`[test-pythons] built ${label} in ${Math.round((Date.now() - started) / 1000)} s\n`);
      pruneStale(version, disableGil, prefix);
    }
    return r.python;
  });
}

/**
 * For test files: the interpreter, or a skip reason when it cannot be built here (no patch for that
 * minor yet, no source tarball offline). With GIL_NVTX_REQUIRE_PYTHONS=1 the failure is thrown instead.
 */
export async function patchedPythonOrSkip(version: string, opts: { disableGil?: boolean } = {}): Promise<{ python: string } | { skip: string }> {
  try {
    return { python: await ensurePatchedPython(version, opts) };
  } catch (err) {
    if (process.env[REQUIRE_PYTHONS] === '1') throw err;
    const e = err as Error & { hint?: string };
    return { skip: `patched CPython ${buildName(version, opts.disableGil ?? false)} unavailable: ${e.message}` };
  }
}

/** Whether a test interpreter of that version was built here before (for any patch); cheap and sync. */
export function testPythonBuilt(version: string, disableGil = false): boolean {
  const dir = join(cacheRoot(), 'test-pythons');
  const prefix = `${buildName(version, disableGil)}-`;
  return existsSync(dir) && readdirSync(dir).some((e) => e.startsWith(prefix) && !e.endsWith('.lock') && readStamp(join(dir, e))?.python !== undefined);
}

/**
 * Which interpreters a long-running test file should use: all of the CI set in CI; locally the ones
 * named in GIL_NVTX_TEST_PYTHONS (built on demand) plus those already built, so a plain local `npm test`
 * does not start five CPython builds.
 */
export function pythonsToTest(env: NodeJS.ProcessEnv = process.env): { version: string; disableGil?: boolean; reason?: string }[] {
  if (env[REQUIRE_PYTHONS] === '1') return CI_PYTHONS;
  const named = env.GIL_NVTX_TEST_PYTHONS ? testPythons(env) : [];
  return CI_PYTHONS.map((p) =>
    named.includes(p) || testPythonBuilt(p.version, p.disableGil)
      ? p
      : { ...p, reason: `not built yet; GIL_NVTX_TEST_PYTHONS=${buildName(p.version, p.disableGil ?? false)} builds it (or set ${REQUIRE_PYTHONS}=1)` },
  );
}
