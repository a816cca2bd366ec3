import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { findNvtxHeaders } from '../../lib/nvtx-headers.js';
import { nsysGate } from '../helpers/tools.js';
import { runWithCollector } from '../trace/helpers.js';
import { readGilTrace } from './gil-invariants.js';
import { profileRetrying } from './trace-cases.js';

// The hook header on its own (no CPython build): compiled under the C standards CPython uses, with
// CPython's warning flags, and driven by test/gil/programs/hooks_probe.c.
const SRC = fileURLToPath(new URL('../../patches/src/', import.meta.url));
const PROBE = fileURLToPath(new URL('./programs/hooks_probe.c', import.meta.url));
const nvtxInclude = findNvtxHeaders().includeDir;
const work = mkdtempSync(join(tmpdir(), 'gil-hooks-'));
const WARN = ['-Wall', '-Wextra', '-Wno-unused-parameter', '-Wno-missing-field-initializers', '-Wstrict-prototypes', '-Werror'];

function compile(out: string, std: string, defines: string[]): void {
  const r = spawnSync('cc', [`-std=${std}`, '-O2', ...WARN, ...defines, `-I${SRC}`, `-I${nvtxInclude}`, PROBE, '-o', out, '-ldl', '-lpthread'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

function run(exe: string, env: Record<string, string> = {}): string {
  const e = { ...process.env, ...env };
  delete e.NVTX_INJECTION64_PATH;
  const r = spawnSync(exe, [], { env: e, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

/** With a real NVTX tool attached (the collector), so that every hook takes its recording path. */
function runWithTool(exe: string, env: Record<string, string> = {}): string {
  const r = runWithCollector([exe], join(work, 'collector-raw'), env);
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

describe('the GIL hook header', () => {
  const on = join(work, 'probe-on');
  beforeAll(() => compile(on, 'c11', ['-DPY_NVTX_GIL']));

  it.each(['c99', 'c11'])('compiles warning-free under -std=%s, with and without -DPY_NVTX_GIL', (std) => {
    compile(join(work, `on-${std}`), std, ['-DPY_NVTX_GIL']);
    compile(join(work, `off-${std}`), std, []);
  });

  it('compiles to nothing without -DPY_NVTX_GIL: no NVTX symbol, no version symbol', () => {
    const off = join(work, 'probe-off');
    compile(off, 'c11', []);
    expect(run(off)).toBe('state=none errno=ok');
    const nm = spawnSync('nm', [off], { encoding: 'utf8' }).stdout;
    expect(nm).not.toMatch(/nvtx|_Py_gil_nvtx_version/i);
    expect(spawnSync('nm', ['-D', '--defined-only', on], { encoding: 'utf8' }).stdout + spawnSync('nm', [on], { encoding: 'utf8' }).stdout).toMatch(/ R _Py_gil_nvtx_version/);
  });

  it('preserves errno across every hook and balances the per-thread hold stack (tool attached)', () => {
    expect(runWithTool(on)).toBe('state=1 held=0 errno=ok version=gil-nvtx 1');
  });

  it('stops every hook at its state test when no NVTX tool is attached', () => {
    expect(run(on)).toBe('state=3 held=0 errno=ok version=gil-nvtx 1');
  });

  it('turns itself off with PYTHON_GIL_NVTX=0 (and only with 0)', () => {
    expect(runWithTool(on, { PYTHON_GIL_NVTX: '0' })).toMatch(/^state=-1 /);
    expect(runWithTool(on, { PYTHON_GIL_NVTX: '1' })).toMatch(/^state=1 /);
  });

  it.skipIf(nsysGate.skip)('emits the contract under nsys: domain, registered names, payload, category, nested GILs ended in order', async () => {
    const r = await profileRetrying([on], { output: join(work, 'probe'), timeoutSec: 120 });
    const t = readGilTrace(r.sqlite!);
    expect(t.ranges.filter((x) => x.name === 'Waiting for GIL')).toHaveLength(9);
    const holds = t.ranges.filter((x) => x.name === 'Holding GIL');
    expect(holds).toHaveLength(6);
    expect(holds.map((h) => [h.interpId, h.gilId])).toEqual([[0, 0], [1, 1], [0, 0], [1, 1], [0, 0], [1, 1]]);
    expect(t.marks).toHaveLength(3);
    expect(t.ranges.every((x) => x.end !== null && x.end < t.sessionEnd)).toBe(true);
  }, 300_000);
});
