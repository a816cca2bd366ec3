import { describe, it } from 'vitest';
import { buildName } from '../../lib/python/paths.js';
import { ensurePatchedPython, pythonsToTest } from '../helpers/pythons.js';
import { defineTraceCase, type TraceCase } from './trace-cases.js';

// The versions CI proves: each patched build traced under real nsys. Locally only
// the interpreters already built (or named in GIL_NVTX_TEST_PYTHONS) run; CI builds all of them.
const CASES: TraceCase[] = [
  { version: '3.9.2' },
  { version: '3.11.2' },
  { version: '3.13.5' },
  { version: '3.13.5', disableGil: true, env: { PYTHON_GIL: '1' } },
  { version: '3.13.5', disableGil: true, env: { PYTHON_GIL: '0' }, expectNoGil: true },
  { version: '3.13.15' },
];

const available = pythonsToTest();
for (const c of CASES) {
  const p = available.find((a) => a.version === c.version && (a.disableGil ?? false) === (c.disableGil ?? false));
  if (!p || p.reason !== undefined) {
    describe(`GIL ranges of CPython ${buildName(c.version, c.disableGil ?? false)} under nsys`, () => {
      it.skip(p?.reason ?? 'not in the test set', () => {});
    });
    continue;
  }
  defineTraceCase(c, ensurePatchedPython);
}
