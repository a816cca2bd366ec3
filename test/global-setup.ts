import { CI_PYTHONS, REQUIRE_PYTHONS, ensurePatchedPython } from './helpers/pythons.js';

// Work that many test files share and that must happen once per run. In CI (GIL_NVTX_REQUIRE_PYTHONS=1)
// the patched interpreters are built here, one after another, before any test file starts, so parallel
// test workers never race two CPython builds on a 2-core machine. Locally they are built lazily by the
// first test that asks (test/helpers/pythons.ts), and reused across runs.
export default async function setup(): Promise<void> {
  if (process.env[REQUIRE_PYTHONS] !== '1') return;
  for (const p of CI_PYTHONS) {
    const started = Date.now();
    const python = await ensurePatchedPython(p.version, { disableGil: p.disableGil });
    process.stderr.write(`[global-setup] ${python} ready (${Math.round((Date.now() - started) / 1000)} s)\n`);
  }
}
