import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, constants, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPython, type BuildPythonOptions } from '../../lib/python/build.js';
import { DIST_INDEX, ensureBuilt } from '../nvtx/helpers.js';
import { FAKE_VERSION, makeFakeRelease } from './fake-cpython.js';

// Ctrl-C (or SIGTERM, SIGHUP) during a build step: the whole make process group stops, the staging
// folder goes, the lock is free, and a re-run right away builds alone. The long step is the fake
// CPython's `make install` waiting on a `sleep` child (FAKE_INSTALL_BLOCK), not a real build.
const BUILD_JS = join(dirname(DIST_INDEX), 'python', 'build.js');
const SCRIPT = `
const { buildPython } = await import(${JSON.stringify(BUILD_JS)});
try {
  await buildPython(JSON.parse(process.argv[2]));
} catch (err) {
  process.stderr.write(err.message + '\\n');
  process.exit(err.exitCode ?? 1);
}
`;

let work: string;
let fake: ReturnType<typeof makeFakeRelease>;
let script: string;
beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'gil-nvtx-interrupt-'));
  fake = makeFakeRelease(join(work, 'fake'));
  mkdirSync(join(work, 'nvtx', 'nvtx3'), { recursive: true });
  writeFileSync(join(work, 'nvtx', 'nvtx3', 'nvToolsExt.h'), '/* stand-in */\n');
  script = join(work, 'build.mjs');
  writeFileSync(script, SCRIPT);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Whether `pid` is gone (a zombie waiting for its reaper counts as gone: it runs nothing). */
function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').startsWith('Z');
  } catch {
    return true;
  }
}

describe('interrupting build-python', () => {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    it(`${sig} during make install: the make group is stopped, no staging folder, the lock is free`, async () => {
      const dir = mkdtempSync(join(work, `case-${sig}-`));
      const fifo = join(dir, 'block.fifo');
      execFileSync('mkfifo', [fifo]);
      const env = { ...process.env, GIL_NVTX_CACHE_DIR: join(dir, 'cache'), GIL_NVTX_OFFLINE: '1', GIL_NVTX_NO_APT: '1', NVTX_INCLUDE_DIR: join(work, 'nvtx') };
      const opts: BuildPythonOptions = { version: FAKE_VERSION, release: fake.release, prefix: join(dir, 'prefix'), tarball: fake.tarball, patchFile: fake.patch, jobs: 1, quiet: true, env, nvtxModule: false };
      const child = spawn(process.execPath, [script, JSON.stringify({ ...opts, env: { ...env, FAKE_INSTALL_BLOCK: fifo } })], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
      // The install step writes its `sleep` child's pid into the FIFO; a build that ends before it
      // would leave the read waiting, so its end opens the FIFO's other side.
      const early = exited.then(() => {
        closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
        return null;
      });
      const pidText = await Promise.race([readFile(fifo, 'utf8'), early]);
      expect(pidText, `the build ended before its install step: ${stderr}`).toMatch(/^\d+\n$/);
      const grandchild = Number(pidText);
      try {
        expect(readdirSync(dir).filter((n) => n.startsWith('prefix.tmp-'))).toHaveLength(1);
        child.kill(sig);
        const code = await exited;
        expect(stderr).toBe(`Interrupted by ${sig}: stopped \`make\` and every process it started.\n`);
        expect(code).toBe(sig === 'SIGINT' ? 130 : 143);
        expect(gone(grandchild)).toBe(true);
      } finally {
        // Should a regression leave the step running, it must not outlive the test.
        if (!gone(grandchild)) process.kill(grandchild, 'SIGKILL');
      }
      expect(readdirSync(dir).filter((n) => n.startsWith('prefix'))).toEqual([]);
      // At once, in this process: the lock is free and the build completes.
      const r = await buildPython(opts);
      expect(r.reused).toBe(false);
      expect(existsSync(r.python)).toBe(true);
    });
  }

  it('a staging folder of a build killed outright is removed by the next build', async () => {
    const dir = mkdtempSync(join(work, 'case-dead-'));
    const env = { ...process.env, GIL_NVTX_CACHE_DIR: join(dir, 'cache'), GIL_NVTX_OFFLINE: '1', GIL_NVTX_NO_APT: '1', NVTX_INCLUDE_DIR: join(work, 'nvtx') };
    // A pid that is surely gone: a child that has exited and been reaped.
    const dead = spawn('true');
    await new Promise((res) => dead.on('exit', res));
    mkdirSync(join(dir, `prefix.tmp-${dead.pid}`, 'usr'), { recursive: true });
    const live = join(dir, `prefix.tmp-${process.ppid}`); // a live process's: left alone
    mkdirSync(live);
    await buildPython({ version: FAKE_VERSION, release: fake.release, prefix: join(dir, 'prefix'), tarball: fake.tarball, patchFile: fake.patch, jobs: 1, quiet: true, env, nvtxModule: false });
    expect(readdirSync(dir).filter((n) => n.startsWith('prefix')).sort()).toEqual(['prefix', `prefix.tmp-${process.ppid}`]);
  });
});
