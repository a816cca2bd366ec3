// `gil-nvtx profile` picks the GIL source: nsys's own tracer (`--trace=python-gil`) for a stock
// CPython when the nsys has it, the patch's NVTX ranges for a patched interpreter, and a warning when
// neither can record anything. Decided from what the nsys says it can do, checked under real nsys.
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { discoverNsys, type NsysProbe } from '../../lib/nsys/discover.js';
import { decidePythonGil, looksLikePython, pythonSamplingArgs } from '../../lib/nsys/python-gil.js';
import { patchedPythonOrSkip } from '../helpers/pythons.js';
import { missingTool, nsysPath } from '../helpers/tools.js';

const CLI = fileURLToPath(new URL('../../bin/gil-nvtx.js', import.meta.url));
const WORKLOAD = fileURLToPath(new URL('../../test-support/programs/usleep_hold.py', import.meta.url));
const STOCK = '/usr/bin/python3';
const REQUIRE = 'GIL_NVTX_REQUIRE_NSYS';

function probe(over: Partial<NsysProbe>): NsysProbe {
  return { path: '/x/nsys', realPath: '/x/nsys', origins: ['PATH'], selected: true, version: '2022.4.2.1', pythonGil: false, pythonSampling: false, error: null, ...over };
}

describe('decidePythonGil (no nsys run)', () => {
  const newNsys = probe({ version: '2024.2.3.38', pythonGil: true, pythonSampling: true });

  it('tells CPython executables by name', () => {
    for (const name of ['python3', '/usr/bin/python3.11', 'python3.13t', 'python', 'python3.11-gil-nvtx']) expect(looksLikePython(name), name).toBe(true);
    for (const name of ['node', '/usr/bin/pythonic', 'ipython', 'mypython3']) expect(looksLikePython(name), name).toBe(false);
  });

  it('refuses --python-gil and --python-sampling on an nsys that lacks them, with exit 3', async () => {
    await expect(decidePythonGil('on', probe({}), process.execPath)).rejects.toMatchObject({ exitCode: 3, message: expect.stringMatching(/needs nsys 2024.2/) });
    expect(() => pythonSamplingArgs(1000, probe({}))).toThrow(/no Python backtrace sampling/);
    expect(pythonSamplingArgs(250, newNsys)).toEqual(['--python-sampling=true', '--python-sampling-frequency=250']);
    expect(pythonSamplingArgs(null, probe({}))).toEqual([]);
  });

  it('auto: on for a command that is not a patched interpreter when the nsys can; off with --no-python-gil', async () => {
    expect(await decidePythonGil('auto', newNsys, process.execPath)).toMatchObject({ enabled: true, warning: null });
    expect(await decidePythonGil('off', newNsys, process.execPath)).toMatchObject({ enabled: false, warning: null });
    // A Node command under an old nsys: nothing to warn about, its children may be patched.
    expect(await decidePythonGil('auto', probe({}), process.execPath)).toMatchObject({ enabled: false, warning: null });
  });
});

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [CLI, 'profile', ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true', ...env }, timeout: 600_000 });

function gilDomains(sqlite: string): string[] {
  const db = new Database(sqlite, { readonly: true });
  try {
    return (db.prepare(`SELECT DISTINCT text FROM NVTX_EVENTS WHERE eventType = 75 AND text IN ('GIL Trace', 'CPython GIL') ORDER BY text`).pluck().all() as string[]);
  } finally {
    db.close();
  }
}

describe('gil-nvtx profile chooses the GIL source (real nsys)', () => {
  let newNsys: string | null = null;
  let oldNsys: NsysProbe | undefined;
  let skip = '';
  beforeAll(async () => {
    if (!nsysPath) return void (skip = missingTool('nsys', REQUIRE));
    const all = await discoverNsys();
    newNsys = all.find((p) => p.pythonGil)?.path ?? null;
    oldNsys = all.find((p) => p.version !== null && !p.pythonGil);
    if (!newNsys) return void (skip = missingTool('nsys with --trace=python-gil (2024.2 or newer)', REQUIRE));
    if (!existsSync(STOCK)) skip = missingTool(`a stock ${STOCK}`, REQUIRE);
  }, 120_000);

  it('a stock CPython under nsys 2024.2: nsys traces the GIL, and the report reads it', (ctx) => {
    if (skip) ctx.skip(skip);
    const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-pgil-'));
    const r = cli(['--nsys', newNsys!, '--json', '-o', join(dir, 'p'), '--', STOCK, WORKLOAD, join(dir, 'ids.txt')]);
    expect(r.stderr).not.toMatch(/holds? no GIL ranges/);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.gilSource.id).toBe('nsys');
    expect(report.blame[0].durationNs).toBeGreaterThan(150_000_000);
    expect(gilDomains(join(dir, 'p.sqlite'))).toEqual(['GIL Trace']);
  }, 600_000);

  it('a patched interpreter under nsys 2024.2: only its own ranges, not both tracers', async (ctx) => {
    if (skip) ctx.skip(skip);
    const found = await patchedPythonOrSkip('3.11.2');
    if ('skip' in found) return ctx.skip(found.skip);
    const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-pgil-'));
    const r = cli(['--nsys', newNsys!, '--json', '-o', join(dir, 'p'), '--', found.python, WORKLOAD, join(dir, 'ids.txt')]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).gilSource.id).toBe('patch');
    expect(gilDomains(join(dir, 'p.sqlite'))).toEqual(['CPython GIL']);
  }, 600_000);

  it('a stock CPython under an nsys without python-gil: says, even with --quiet, that nothing will be recorded', (ctx) => {
    if (skip) ctx.skip(skip);
    if (!oldNsys) return ctx.skip(missingTool('an nsys without --trace=python-gil (2022.4)', REQUIRE));
    const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-pgil-'));
    const r = cli(['--nsys', oldNsys.path, '--quiet', '--no-osrt', '-o', join(dir, 'p'), '--', STOCK, '-c', 'pass']);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('this profile will hold no GIL ranges'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`nsys ${oldNsys.version} cannot trace the GIL of a stock CPython`);
    expect(r.status).not.toBe(0);
  }, 600_000);

  it('refuses contradictory flags and a bad sampling rate with exit 2', () => {
    const both = cli(['--python-gil', '--no-python-gil', '--', 'true']);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/contradict/);
    const hz = cli(['--python-sampling', '--python-sampling-hz', '5000', '--', 'true']);
    expect(hz.status).toBe(2);
    expect(hz.stderr).toMatch(/from 1 to 2000/);
    const lone = cli(['--python-sampling-hz', '100', '--', 'true']);
    expect(lone.status).toBe(2);
  });
});
