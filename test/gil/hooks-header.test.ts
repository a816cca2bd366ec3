import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { findNvtxHeaders } from '../../lib/nvtx-headers.js';
import { nsysProfile } from '../../lib/nsys/run.js';
import { nsysGate } from '../helpers/tools.js';
import { mergeTrace } from '../../lib/trace/merge.js';
import { queryAll, runWithCollector } from '../trace/helpers.js';
import { readGilTrace } from './gil-invariants.js';

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

  /** The location marks' messages a collector run of the probe records, in order. */
  function locationMarks(env: Record<string, string>): string[] {
    const raw = join(mkdtempSync(join(work, 'loc-')), 'raw');
    const r = runWithCollector([on], raw, env);
    expect(r.status, r.stderr).toBe(0);
    const db = join(raw, '..', 'trace.sqlite');
    mergeTrace(raw, db);
    return queryAll<{ text: string }>(db, "SELECT text FROM NVTX_EVENTS WHERE eventType = 34 AND text LIKE 'GIL % at %' ORDER BY start").map((m) => m.text);
  }

  it('marks where holds and waits began and ended, leaving out a start whose frame returned (PYTHON_GIL_NVTX_LOCATION_MS=0)', () => {
    expect(locationMarks({ PYTHON_GIL_NVTX_LOCATION_MS: '0' })).toEqual([
      'GIL wait at outer (/probe/probe.py:13)',
      'GIL taken at outer (/probe/probe.py:13)',
      'GIL released at inner (/probe/probe.py:25)',
      'GIL wait at inner (/probe/probe.py:25)',
      'GIL released at outer (/probe/probe.py:14)',
    ]);
  });

  it('marks no location of holds and waits shorter than the threshold (default 1 ms), and none with "off"', () => {
    expect(locationMarks({})).toEqual([]);
    expect(locationMarks({ PYTHON_GIL_NVTX_LOCATION_MS: 'off' })).toEqual([]);
    expect(locationMarks({ PYTHON_GIL_NVTX_LOCATION_MS: '1000' })).toEqual([]);
  });

  it('turns itself off with PYTHON_GIL_NVTX=0 (and only with 0)', () => {
    expect(runWithTool(on, { PYTHON_GIL_NVTX: '0' })).toMatch(/^state=-1 /);
    expect(runWithTool(on, { PYTHON_GIL_NVTX: '1' })).toMatch(/^state=1 /);
  });

  it.skipIf(nsysGate.skip)('emits the contract under nsys: domain, registered names, payload, category, nested GILs ended in order', async () => {
    const r = await nsysProfile([on], { output: join(work, 'probe'), timeoutSec: 120 });
    const t = readGilTrace(r.sqlite!);
    expect(t.ranges.filter((x) => x.name === 'Waiting for GIL')).toHaveLength(11);
    const holds = t.ranges.filter((x) => x.name === 'Holding GIL');
    expect(holds).toHaveLength(8);
    expect(holds.map((h) => [h.interpId, h.gilId])).toEqual([[0, 0], [1, 1], [0, 0], [1, 1], [0, 0], [1, 1], [0, 0], [0, 0]]);
    expect(t.marks.map((m) => m.name)).toEqual(['GIL drop request', 'GIL drop request', 'GIL drop request']);
    expect(t.ranges.every((x) => x.end !== null && x.end < t.sessionEnd)).toBe(true);
    // The location marks reach nsys as ASCII messages, inside the holds they describe.
    const loc = readGilTrace((await nsysProfile([on], { output: join(work, 'probe-loc'), timeoutSec: 120, env: { ...process.env, PYTHON_GIL_NVTX_LOCATION_MS: '0' } })).sqlite!);
    const where = loc.marks.filter((m) => m.name !== 'GIL drop request');
    expect(where.map((m) => m.name)).toEqual(locationMarks({ PYTHON_GIL_NVTX_LOCATION_MS: '0' }));
    const lastHolds = loc.ranges.filter((x) => x.name === 'Holding GIL').slice(-2);
    expect(where.filter((m) => !m.name.startsWith('GIL wait')).every((m) => lastHolds.some((h) => m.start >= h.start && m.start <= h.end!))).toBe(true);
  }, 300_000);
});
