// Which nsys gil-nvtx runs, and every nsys `doctor` lists: found on the file system, then asked through
// scripts/nsys-locked.sh. Stand-in nsys scripts answer like 2022.4 (no Python switches) and 2024.2.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GilNvtxError } from '../../lib/errors.js';
import { discoverNsys, nsysCandidates, parseNsysVersion } from '../../lib/nsys/discover.js';
import { findNsys, withNsys } from '../../lib/nsys/run.js';
import { runDoctor } from '../../lib/python/doctor.js';
import { scratch } from '../report/helpers.js';
import { nsysGate } from '../helpers/tools.js';

function fakeNsys(path: string, version: string, pythonGil: boolean): string {
  mkdirSync(join(path, '..'), { recursive: true });
  const help = pythonGil ? "   'nvvideo', 'vulkan', 'python-gil' or 'none'.\\n\\t--python-sampling=" : "   'nvtx', 'osrt' or 'none'.";
  writeFileSync(
    path,
    `#!/bin/sh\ncase "$1" in\n  --version) echo "NVIDIA Nsight Systems version ${version}-abc" ;;\n  profile) printf "${help}\\n" ;;\n  *) exit 1 ;;\nesac\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

describe('choosing and finding nsys', () => {
  const dir = scratch('gil-nvtx-nsys-find-');
  const old = fakeNsys(join(dir, 'usr/lib/nsight-systems/target-linux-x64/nsys'), '2022.4.2.1', false);
  mkdirSync(join(dir, 'bin'));
  symlinkSync(old, join(dir, 'bin', 'nsys'));
  const fresh = fakeNsys(join(dir, 'opt/nsight-systems-2024.2/target-linux-x64/nsys'), '2024.2.3.38', true);
  const roots = { opt: [{ root: join(dir, 'opt'), prefix: 'nsight-systems-', tail: ['target-linux-x64', 'nsys'] }], debian: [old] };
  const env = { PATH: join(dir, 'bin'), GIL_NVTX_NSYS_LOCK: join(dir, 'lock') };

  it('runs the nsys on PATH unless GIL_NVTX_NSYS or --nsys names another', () => {
    expect(findNsys(env)).toBe(join(dir, 'bin', 'nsys'));
    expect(findNsys({ ...env, GIL_NVTX_NSYS: fresh })).toBe(fresh);
    expect(findNsys(withNsys(fresh, env))).toBe(fresh);
    expect(findNsys({ PATH: join(dir, 'nowhere') })).toBeNull();
  });

  it('refuses an nsys path that is not an executable file, in one line', () => {
    expect(() => findNsys({ ...env, GIL_NVTX_NSYS: join(dir, 'missing') })).toThrow(GilNvtxError);
    expect(() => findNsys({ ...env, GIL_NVTX_NSYS: join(dir, 'missing') })).toThrow(/GIL_NVTX_NSYS=.*missing is not an executable file/);
    expect(() => withNsys(dir, env)).toThrow(/--nsys .*: not an executable file/);
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '../../bin/gil-nvtx.js'), 'profile', '--nsys', join(dir, 'missing'), '--', 'true'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--nsys .*missing: not an executable file/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('profile --python-gil refuses an nsys that cannot trace the GIL itself, in one line', () => {
    const r = spawnSync(process.execPath, [join(import.meta.dirname, '../../bin/gil-nvtx.js'), 'profile', '--python-gil', '--nsys', old, '--', 'true'], {
      encoding: 'utf8',
      env: { ...process.env, GIL_NVTX_NSYS_LOCK: join(dir, 'lock') },
    });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/--python-gil: .* \(2022\.4\.2\.1\) cannot trace the GIL itself; that needs nsys 2024\.2 or newer\./);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('lists each install once, however many ways it was found, and marks the one in use', () => {
    const found = nsysCandidates(env, roots);
    expect(found.map((c) => [c.realPath, c.origins, c.selected])).toEqual([
      [old, ['PATH', 'debian'], true],
      [fresh, ['opt'], false],
    ]);
    const chosen = nsysCandidates({ ...env, GIL_NVTX_NSYS: fresh }, roots);
    expect(chosen.map((c) => [c.realPath, c.origins, c.selected])).toEqual([
      [fresh, ['GIL_NVTX_NSYS', 'opt'], true],
      [old, ['PATH', 'debian'], false],
    ]);
  });

  it('asks each its version and whether it traces the GIL itself', async () => {
    // nsys-locked.sh needs the system's tools; nsys installs found on the real PATH are left out below.
    const probes = (await discoverNsys({ ...env, PATH: `${env.PATH}:${process.env.PATH}` }, roots)).filter((p) => p.realPath.startsWith(dir));
    expect(probes.map((p) => [p.version, p.pythonGil, p.pythonSampling])).toEqual([
      ['2022.4.2.1', false, false],
      ['2024.2.3.38', true, true],
    ]);
    expect(parseNsysVersion('NVIDIA Nsight Systems version 2024.2.3.38-242334140272v0')).toBe('2024.2.3.38');
    expect(parseNsysVersion('garbage')).toBeNull();
  });

  it.skipIf(nsysGate.skip)('doctor lists every nsys of this machine with its version and GIL sources', { timeout: 300_000 }, async () => {
    const report = await runDoctor(undefined, process.env, { waitForNsys: true });
    const listed = report.checks.filter((c) => c.name === 'nsys' || c.name === 'nsys (other)');
    expect(listed.filter((c) => c.name === 'nsys')).toHaveLength(1);
    for (const c of listed) expect(c.detail).toMatch(/\(20\d\d\.\d+\.\d+(\.\d+)?; --trace=python-gil (yes|no); found via /);
    expect(listed.length).toBe(nsysCandidates().length);
  });
});
