import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qdstrmImporterProblem, runDoctor } from '../../lib/python/doctor.js';
import { REQUIRE_PYTHONS, patchedPythonOrSkip, pythonsToTest } from '../helpers/pythons.js';
import { nsysGate, nsysPath, toolGate } from '../helpers/tools.js';

let work: string;
let nvtxDir: string;

/** A real stock CPython: the system's, or the first `python3` on PATH that is no pyenv shim and no test build. */
function findStockPython(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v -a python3; echo /usr/bin/python3'], { encoding: 'utf8' });
  const candidates = (r.stdout ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  return candidates.find((p) => p.startsWith('/') && !p.includes('/shims/') && !p.includes('/test-pythons/') && existsSync(p)) ?? null;
}
const stockPython = findStockPython();
// CI machines have /usr/bin/python3; there (GIL_NVTX_REQUIRE_PYTHONS=1) its absence fails this file.
const stockGate = toolGate('a stock python3 (/usr/bin/python3 or one on PATH)', stockPython !== null, REQUIRE_PYTHONS);

/**
 * A shell script answering doctor's interpreter probe as CPython 3.11.2 would, patched (with the
 * symbol's value) or stock (no symbol; `nm` finds none in a script either).
 */
function fakePython(path: string, patched: boolean): string {
  const probe = { executable: path, version: '3.11.2', prefix: dirname(path), freeThreaded: false, gilEnabled: true, patchVersion: patched ? 'gil-nvtx test' : null, ctypes: true };
  writeFileSync(path, `#!/bin/sh\necho '${JSON.stringify(probe)}'\n`);
  chmodSync(path, 0o755);
  return path;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'gil-nvtx-doctor-'));
  nvtxDir = join(work, 'include');
  mkdirSync(join(nvtxDir, 'nvtx3'), { recursive: true });
  writeFileSync(join(nvtxDir, 'nvtx3', 'nvToolsExt.h'), '');
  mkdirSync(join(work, 'patched'));
  mkdirSync(join(work, 'stock'));
  fakePython(join(work, 'patched', 'python3'), true);
  fakePython(join(work, 'stock', 'python3'), false);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('gil-nvtx doctor', () => {
  it('reports an interpreter without the patch as not patched and fails', async () => {
    const fake = join(work, 'stock', 'python3');
    const report = await runDoctor(fake, { ...process.env, NVTX_INCLUDE_DIR: nvtxDir });
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(byName.python).toMatchObject({ status: 'ok', detail: `${fake}: CPython 3.11.2` });
    expect(byName.patched).toMatchObject({ status: 'fail', required: true, hint: 'Build one: gil-nvtx build-python 3.11.2' });
    expect(report.python).toMatchObject({ patched: false, patchVersion: null, stamp: null });
    expect(report.ok).toBe(false);
  });

  it('reports the same interpreter with the patch as patched and passes', async () => {
    const report = await runDoctor(join(work, 'patched', 'python3'), { ...process.env, NVTX_INCLUDE_DIR: nvtxDir });
    expect(report.checks.find((c) => c.name === 'patched')).toMatchObject({ status: 'ok', detail: 'exports _Py_gil_nvtx_version = "gil-nvtx test"' });
    expect(report.ok).toBe(true);
  });

  it.skipIf(stockGate.skip)('reports a real stock interpreter as not patched and fails', async () => {
    const report = await runDoctor(stockPython!, { ...process.env, NVTX_INCLUDE_DIR: nvtxDir });
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(byName.python!.status).toBe('ok');
    expect(byName.python!.detail).toMatch(/CPython 3\.\d+\.\d+/);
    expect(byName.patched).toMatchObject({ status: 'fail', required: true });
    expect(byName['gil_nvtx module']).toMatchObject({ status: 'warn', required: false });
    expect(byName['gil_nvtx module']!.detail).toMatch(/^not importable \(ModuleNotFoundError: No module named 'gil_nvtx'\)/);
    // A real ELF binary: nm looked and found no symbol (null would mean it could not look).
    expect(report.python).toMatchObject({ patched: false, patchVersion: null, patchedSymbol: false, stamp: null });
    expect(report.ok).toBe(false);
  });

  // A patched interpreter from the test set (CI builds them all; locally only if already built).
  const patchedCase = pythonsToTest().find((p) => !p.disableGil && p.reason === undefined);
  it.skipIf(!patchedCase)('reports a patched interpreter: symbol value, build stamp, version', { timeout: 3_600_000 }, async (ctx) => {
    const got = await patchedPythonOrSkip(patchedCase!.version);
    if ('skip' in got) return ctx.skip(got.skip);
    const report = await runDoctor(got.python, { ...process.env, NVTX_INCLUDE_DIR: nvtxDir });
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(byName.patched!.status).toBe('ok');
    expect(report.python!.patchVersion).toMatch(/^gil-nvtx /);
    expect(report.python!.version).toBe(patchedCase!.version);
    expect(report.python!.stamp).toMatchObject({ version: patchedCase!.version, patchedSymbol: true });
    expect(byName['build stamp']!.status).toBe('ok');
    // The test helpers install the NVTX module into every interpreter they hand out.
    expect(byName['gil_nvtx module']).toMatchObject({ status: 'ok', required: false });
    expect(byName['gil_nvtx module']!.detail).toMatch(/gil_nvtx\.cpython-\d+.*\.so$/);
    expect(report.ok).toBe(true);
  });

  it('finds the NVTX headers and says where; fails when they are missing', async () => {
    const good = await runDoctor(undefined, { ...process.env, NVTX_INCLUDE_DIR: nvtxDir });
    expect(good.checks.find((c) => c.name === 'NVTX headers')).toMatchObject({ status: 'ok', detail: `${nvtxDir} (NVTX_INCLUDE_DIR)` });
    const bad = await runDoctor(undefined, { ...process.env, NVTX_INCLUDE_DIR: join(work, 'missing') });
    expect(bad.checks.find((c) => c.name === 'NVTX headers')!.status).toBe('fail');
    expect(bad.ok).toBe(false);
  });

  it('a path that is not an interpreter is a failed check, not a crash', async () => {
    const notPython = join(work, 'not-python');
    writeFileSync(notPython, '#!/bin/sh\necho nope; exit 3\n');
    chmodSync(notPython, 0o755);
    const report = await runDoctor(notPython, { ...process.env, NVTX_INCLUDE_DIR: nvtxDir });
    expect(report.checks.find((c) => c.name === 'python')).toMatchObject({ status: 'fail' });
    expect(report.ok).toBe(false);
  });

  it('looks a bare interpreter name up in PATH, as a shell does', async () => {
    const bin = join(work, 'patched');
    const fake = join(bin, 'python3');
    const report = await runDoctor('python3', { ...process.env, PATH: `${bin}:${process.env.PATH}`, NVTX_INCLUDE_DIR: nvtxDir });
    expect(report.checks.find((c) => c.name === 'python')).toMatchObject({ status: 'ok', detail: `${fake}: CPython 3.11.2` });
    expect(report.python).toMatchObject({ executable: fake, patched: true });
    const missing = await runDoctor('no-such-python-here', { ...process.env, NVTX_INCLUDE_DIR: nvtxDir });
    expect(missing.checks.find((c) => c.name === 'python')).toMatchObject({ status: 'fail', detail: 'No such interpreter: no-such-python-here (not found in PATH).' });
    // A PATH with no python3 on it at all.
    const empty = join(work, 'empty-bin');
    mkdirSync(empty);
    const none = await runDoctor('python3', { ...process.env, PATH: empty, NVTX_INCLUDE_DIR: nvtxDir });
    expect(none.checks.find((c) => c.name === 'python')).toMatchObject({ status: 'fail', required: true, detail: 'No such interpreter: python3 (not found in PATH).' });
    expect(none.ok).toBe(false);
  });

  it('returns when a wrapper script’s child hangs: the timeout ends the whole process group', { timeout: 60_000 }, async () => {
    const alive = join(work, 'hung-child-alive');
    execFileSync('mkfifo', [alive]);
    const wrapper = join(work, 'python-wrapper');
    // A launcher whose interpreter never answers. The child, not the wrapper, holds the output pipes,
    // and holds the FIFO open for writing for as long as it lives.
    writeFileSync(wrapper, `#!/bin/sh\nsh -c 'exec sleep 600 3>"$0"' ${alive}\n`);
    chmodSync(wrapper, 0o755);
    // Open waits for a writer, then reads until every writer has gone: the end means the child is dead.
    const childGone = open(alive, 'r').then(async (fh) => {
      await fh.readFile();
      await fh.close();
    });
    const report = await runDoctor(wrapper, { ...process.env, NVTX_INCLUDE_DIR: nvtxDir }, { pythonTimeoutMs: 3000 });
    const python = report.checks.find((c) => c.name === 'python')!;
    expect(python.status).toBe('fail');
    expect(python.hint).toContain('timed out');
    // In case the timeout came before the child opened the FIFO, a writer of our own lets the open
    // finish (ENXIO: no reader waits any more, the open finished already).
    try {
      closeSync(openSync(alive, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
    }
    await childGone;
  });

  it('spots the missing QdstrmImporter link of the Debian nsys layout', () => {
    const target = join(work, 'nsight', 'target-linux-x64');
    mkdirSync(target, { recursive: true });
    writeFileSync(join(target, 'nsys'), '');
    expect(qdstrmImporterProblem(join(target, 'nsys'))).toMatch(/QdstrmImporter/);
    mkdirSync(join(work, 'nsight', 'host-linux-x64'));
    writeFileSync(join(work, 'nsight', 'host-linux-x64', 'QdstrmImporter'), '');
    expect(qdstrmImporterProblem(join(target, 'nsys'))).toBeNull();
  });

  it.skipIf(nsysGate.skip)('reports the installed nsys with its version', { timeout: 600_000 }, async () => {
    const report = await runDoctor(undefined, { ...process.env, NVTX_INCLUDE_DIR: nvtxDir }, { waitForNsys: true });
    const nsys = report.checks.find((c) => c.name === 'nsys')!;
    expect(nsys.status).toBe('ok');
    expect(nsys.detail).toContain(nsysPath!);
    expect(nsys.detail).toMatch(/\(20\d\d\.\d+\.\d+/);
    expect(report.checks.find((c) => c.name === 'nsys QdstrmImporter')!.status).toBe('ok');
  });

  it('the CLI prints human output and JSON, and exits non-zero when something required fails', () => {
    const cli = join(process.cwd(), 'bin', 'gil-nvtx.js');
    const env = { ...process.env, NVTX_INCLUDE_DIR: join(work, 'missing') };
    const human = spawnSync('node', [cli, 'doctor'], { env, encoding: 'utf8' });
    expect(human.status).toBe(1);
    expect(human.stdout).toMatch(/FAIL {2}NVTX headers/);
    // Headers found and a patched interpreter: every required check passes, exit 0; a stock one: exit 1.
    const doctorJson = (python: string) => {
      const r = spawnSync('node', [cli, 'doctor', python, '--json'], { env: { ...process.env, NVTX_INCLUDE_DIR: nvtxDir }, encoding: 'utf8' });
      return { status: r.status, report: JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; status: string }[] } };
    };
    const good = doctorJson(join(work, 'patched', 'python3'));
    expect(good.report.checks.find((c) => c.name === 'NVTX headers')?.status).toBe('ok');
    expect(good.report.checks.find((c) => c.name === 'patched')?.status).toBe('ok');
    expect(good.report.ok).toBe(true);
    expect(good.status).toBe(0);
    const stock = doctorJson(join(work, 'stock', 'python3'));
    expect(stock.report.checks.find((c) => c.name === 'patched')?.status).toBe('fail');
    expect(stock.report.ok).toBe(false);
    expect(stock.status).toBe(1);
    expect(execFileSync('node', [cli, 'doctor', '--help'], { encoding: 'utf8' })).toMatch(/usage: gil-nvtx doctor/);
  });
});
