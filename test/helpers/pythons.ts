import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildPython, readStamp } from '../../lib/python/build.js';
import { sha256File } from '../../lib/python/checksum.js';
import { withLock } from '../../lib/python/lock.js';
import { resolvePatchFile } from '../../lib/python/patch-file.js';
import { buildName, cacheRoot } from '../../lib/python/paths.js';

/** What CI builds, patches and traces (design.md "Verification, honestly"); the suites run on each. */
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

export function testPythonPrefix(version: string, disableGil = false): string {
  return join(cacheRoot(), 'test-pythons', buildName(version, disableGil));
}

/**
 * Path of a patched interpreter for tests. Builds it once into ~/.cache/gil-nvtx/test-pythons/<name>
 * (lock-protected across vitest's worker processes) and reuses it across runs while its build stamp
 * matches the current patch file; a stale one (patch changed) is rebuilt. CPython's own test modules
 * stay in (no --disable-test-modules): the regression suites need _testcapi.
 */
export async function ensurePatchedPython(version: string, opts: { disableGil?: boolean } = {}): Promise<string> {
  const disableGil = opts.disableGil ?? false;
  const prefix = testPythonPrefix(version, disableGil);
  const patchFile = process.env.GIL_NVTX_PATCH_FILE ?? (await resolvePatchFile(version));
  const patchSha256 = await sha256File(patchFile);
  return withLock(`${prefix}.lock`, async () => {
    const stamp = readStamp(prefix);
    if (stamp && stamp.patchSha256 !== patchSha256) {
      process.stderr.write(`[test-pythons] ${buildName(version, disableGil)}: the patch changed since it was built; rebuilding\n`);
      rmSync(prefix, { recursive: true, force: true });
    }
    const quiet = process.env.CI === 'true';
    const started = Date.now();
    const r = await buildPython({
      version,
      prefix,
      disableGil,
      patchFile,
      quiet,
      onProgress: quiet ? () => {} : (stage, message) => process.stderr.write(`[test-pythons ${buildName(version, disableGil)}] [${stage}] ${message}\n`),
    }).catch((err: unknown) => {
      if (/already exists and holds a different build/.test(String((err as Error).message))) {
        // built with other flags or NVTX headers: this folder is ours to replace
        rmSync(prefix, { recursive: true, force: true });
        return buildPython({ version, prefix, disableGil, patchFile, quiet: true });
      }
      throw err;
    });
    if (!r.reused) process.stderr.write(`[test-pythons] built ${buildName(version, disableGil)} in ${Math.round((Date.now() - started) / 1000)} s\n`);
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

/** Whether the test interpreter is already built (with any patch); cheap, for deciding to build lazily. */
export function testPythonBuilt(version: string, disableGil = false): boolean {
  const stamp = readStamp(testPythonPrefix(version, disableGil));
  return stamp !== null && stamp.python !== undefined;
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
