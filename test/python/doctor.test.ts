import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qdstrmImporterProblem, runDoctor } from '../../lib/python/doctor.js';
import { patchedPythonOrSkip, pythonsToTest } from '../helpers/pythons.js';
import { nsysGate, nsysPath } from '../helpers/tools.js';

let work: string;
let nvtxDir: string;
let unpatched: string | null = null;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'gil-nvtx-doctor-'));
  nvtxDir = join(work, 'include');
  mkdirSync(join(nvtxDir, 'nvtx3'), { recursive: true });
  writeFileSync(join(nvtxDir, 'nvtx3', 'nvToolsExt.h'), '');
  // A stock interpreter (the system's or pyenv's real executable, never a shim): not patched.
  for (const cmd of [['pyenv', 'which', 'python3'], ['sh', '-c', 'command -v python3']]) {
    const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
    const p = r.stdout?.trim();
    if (r.status === 0 && p && !p.includes('/shims/')) {
      unpatched = p;
      break;
    }
  }
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('gil-nvtx doctor', () => {
  it('reports a stock interpreter as not patched and fails', async (ctx) => {
    if (!unpatched) ctx.skip();
    const report = await runDoctor(unpatched!, { ...process.env, NVTX_INCLUDE_DIR: nvtxDir });
    const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(byName.python!.status).toBe('ok');
    expect(byName.python!.detail).toMatch(/CPython 3\.\d+\.\d+/);
    expect(byName.patched).toMatchObject({ status: 'fail', required: true });
    expect(report.python).toMatchObject({ patched: false, patchVersion: null, stamp: null });
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
    const bin = join(work, 'path-bin');
    mkdirSync(bin);
    const fake = join(bin, 'python3');
    // Answers the interpreter probe the way a patched CPython does.
    const probe = { executable: fake, version: '3.11.2', prefix: bin, freeThreaded: false, gilEnabled: true, patchVersion: 'gil-nvtx test', ctypes: true };
    writeFileSync(fake, `#!/bin/sh\necho '${JSON.stringify(probe)}'\n`);
    chmodSync(fake, 0o755);
    const report = await runDoctor('python3', { ...process.env, PATH: `${bin}:${process.env.PATH}`, NVTX_INCLUDE_DIR: nvtxDir });
    expect(report.checks.find((c) => c.name === 'python')).toMatchObject({ status: 'ok', detail: `${fake}: CPython 3.11.2` });
    expect(report.python).toMatchObject({ executable: fake, patched: true });
    const missing = await runDoctor('no-such-python-here', { ...process.env, NVTX_INCLUDE_DIR: nvtxDir });
    expect(missing.checks.find((c) => c.name === 'python')).toMatchObject({ status: 'fail', detail: 'No such interpreter: no-such-python-here (not found in PATH).' });
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
    const json = spawnSync('node', [cli, 'doctor', '--json'], { env: { ...process.env, NVTX_INCLUDE_DIR: nvtxDir }, encoding: 'utf8' });
    const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: { name: string }[] };
    expect(parsed.checks.map((c) => c.name)).toContain('NVTX headers');
    expect(json.status).toBe(parsed.ok ? 0 : 1);
    expect(execFileSync('node', [cli, 'doctor', '--help'], { encoding: 'utf8' })).toMatch(/usage: gil-nvtx doctor/);
  });
});
