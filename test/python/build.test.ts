import { threadNamesSha256 } from '../../lib/python/thread-names.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GilNvtxError } from '../../lib/errors.js';
import { buildPython, readStamp, type BuildPythonOptions } from '../../lib/python/build.js';
import { cachedTarballPath } from '../../lib/python/paths.js';
import { FAKE_VERSION, makeFakeRelease } from './fake-cpython.js';

let work: string;
let fake: ReturnType<typeof makeFakeRelease>;
let nvtxDir: string;
let n = 0;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'gil-nvtx-build-test-'));
  fake = makeFakeRelease(join(work, 'fake'));
  nvtxDir = join(work, 'nvtx-include');
  mkdirSync(join(nvtxDir, 'nvtx3'), { recursive: true });
  writeFileSync(join(nvtxDir, 'nvtx3', 'nvToolsExt.h'), '/* stand-in */\n');
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fresh cache and prefix per case, offline, with the fake release and the stand-in NVTX headers. */
function setup(extraEnv: NodeJS.ProcessEnv = {}) {
  const dir = join(work, `case-${++n}`);
  mkdirSync(dir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GIL_NVTX_CACHE_DIR: join(dir, 'cache'),
    GIL_NVTX_OFFLINE: '1',
    GIL_NVTX_NO_APT: '1',
    NVTX_INCLUDE_DIR: nvtxDir,
    FAKE_COUNTER: join(dir, 'steps.txt'),
    ...extraEnv,
  };
  const opts = (more: Partial<BuildPythonOptions> = {}): BuildPythonOptions => ({
    version: FAKE_VERSION,
    release: fake.release,
    prefix: join(dir, 'prefix'),
    tarball: fake.tarball,
    patchFile: fake.patch,
    jobs: 1,
    quiet: true,
    env,
    // The fake interpreter is a shell script: nothing to build a Python module against.
    nvtxModule: false,
    ...more,
  });
  const steps = () => (existsSync(env.FAKE_COUNTER!) ? readFileSync(env.FAKE_COUNTER!, 'utf8').trim().split('\n') : []);
  return { dir, env, opts, steps, prefix: join(dir, 'prefix') };
}

async function buildError(p: Promise<unknown>): Promise<GilNvtxError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(GilNvtxError);
  return err as GilNvtxError;
}

/** Nothing half-installed: no prefix, no staging folder beside it. */
function expectNothingInstalled(prefix: string) {
  expect(existsSync(prefix)).toBe(false);
  const parent = dirname(prefix);
  const leftovers = existsSync(parent) ? readdirSync(parent).filter((f) => f.startsWith('prefix.tmp-')) : [];
  expect(leftovers).toEqual([]);
}

describe('buildPython with a small fake release', () => {
  it('patches, configures with the NVTX flags and the final prefix, installs atomically and stamps the prefix', async () => {
    const s = setup();
    const r = await buildPython(s.opts());
    expect(r).toMatchObject({ prefix: s.prefix, python: join(s.prefix, 'bin', 'python3.99'), version: FAKE_VERSION, disableGil: false, reused: false, source: '--tarball' });
    expect(execFileSync(r.python).toString()).toContain('fake python 3.99.1');
    const args = readFileSync(join(s.prefix, 'share', 'configure-args.txt'), 'utf8').trim().split('\n');
    expect(args).toEqual([`--prefix=${s.prefix}`, '--with-ensurepip=no', `CFLAGS_NODIST=-DPY_NVTX_GIL -I${nvtxDir}`]);
    expect(readFileSync(join(s.prefix, 'share', 'ceval_gil.c'), 'utf8')).toContain('_PyGIL_NVTX_WAIT_BEGIN();');
    const stamp = readStamp(s.prefix)!;
    expect(stamp).toMatchObject({ version: FAKE_VERSION, sha256: fake.release.preferred.sha256, nvtxIncludeDir: nvtxDir, python: 'bin/python3.99', patchedSymbol: null });
    expect(stamp.patchSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(stamp.threadNamesSha256).toBe(threadNamesSha256());
    // the thread-naming module, compiled against the installed headers, and its start-up hook
    const site = join(s.prefix, 'lib', 'python3.99', 'site-packages');
    expect(readdirSync(site).sort()).toEqual(['_gil_nvtx.fake-399.so', 'gil_nvtx_threads.pth', 'gil_nvtx_threads.py']);
    expect(readFileSync(join(site, 'gil_nvtx_threads.pth'), 'utf8')).toMatch(/^import .*gil_nvtx_threads/);
    expect(s.steps()).toEqual(['configure', 'make', 'install']);
    // the verified tarball is now in the shared cache layout
    expect(existsSync(cachedTarballPath(fake.release.preferred.sha256, fake.release.preferred.file, s.env))).toBe(true);
    // the build tree is gone after a successful install; nothing staged is left
    expect(readdirSync(join(s.dir, 'cache', 'build')).filter((f) => !f.endsWith('.lock'))).toEqual([]);
    expectNothingInstalled(join(s.dir, 'nothing-here'));
    expect(readdirSync(s.dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('unpatched (the benchmarks\' baseline): the same release and arguments without the patch and -DPY_NVTX_GIL, and no NVTX headers needed', async () => {
    const s = setup({ NVTX_INCLUDE_DIR: join(tmpdir(), 'no-nvtx-here'), CUDA_HOME: '', CUDA_PATH: '' });
    const r = await buildPython(s.opts({ unpatched: true, configureArgs: ['--with-lto'] }));
    expect(r.reused).toBe(false);
    const args = readFileSync(join(s.prefix, 'share', 'configure-args.txt'), 'utf8').trim().split('\n');
    expect(args).toEqual([`--prefix=${s.prefix}`, '--with-ensurepip=no', '--with-lto']);
    expect(readFileSync(join(s.prefix, 'share', 'ceval_gil.c'), 'utf8')).not.toContain('_PyGIL_NVTX');
    expect(readStamp(s.prefix)).toMatchObject({ patchFile: '', patchSha256: '' });
    expect((await buildPython(s.opts({ unpatched: true, configureArgs: ['--with-lto'] }))).reused).toBe(true);
    // the patched build of the same release is a different build, not a reuse of this one
    const err = await buildError(buildPython(s.opts({ configureArgs: ['--with-lto'] })));
    expect(err.message).toMatch(/NVTX|already exists and holds a different build/);
  });

  it('reuses an installed prefix whose build stamp matches, and takes the tarball from the cache next time', async () => {
    const s = setup();
    await buildPython(s.opts());
    const again = await buildPython(s.opts({ tarball: undefined }));
    expect(again.reused).toBe(true);
    expect(s.steps()).toEqual(['configure', 'make', 'install']);
    const other = await buildPython(s.opts({ tarball: undefined, prefix: join(s.dir, 'second') }));
    expect(other).toMatchObject({ reused: false, source: 'cache' });
  });

  it('passes --disable-gil and --configure-arg through, and a different argument set is a different build', async () => {
    const s = setup();
    await buildPython(s.opts({ disableGil: true, configureArgs: ['--with-pydebug'] }));
    const args = readFileSync(join(s.prefix, 'share', 'configure-args.txt'), 'utf8');
    expect(args).toContain('--disable-gil\n--with-pydebug\n');
    const err = await buildError(buildPython(s.opts()));
    expect(err.message).toMatch(/already exists and holds a different build/);
  });

  it('two runs with the same arguments at once: one builds, the other waits and reuses it', async () => {
    const s = setup();
    const [a, b] = await Promise.all([buildPython(s.opts()), buildPython(s.opts())]);
    expect([a.reused, b.reused].sort()).toEqual([false, true]);
    expect(a.python).toBe(b.python);
    expect(s.steps()).toEqual(['configure', 'make', 'install']);
  });

  it('a failed install step does not rebuild on the re-run', async () => {
    const s = setup({ FAKE_INSTALL_FAIL: '1' });
    const err = await buildError(buildPython(s.opts()));
    expect(err.message).toMatch(/make install failed/);
    expect(err.hint).toMatch(/Full log: .*\.log/);
    expect(err.hint).toContain('cannot create regular file (fake)');
    expectNothingInstalled(s.prefix);
    const env = { ...s.env };
    delete env.FAKE_INSTALL_FAIL;
    const r = await buildPython(s.opts({ env }));
    expect(r.reused).toBe(false);
    expect(s.steps()).toEqual(['configure', 'make', 'install', 'install']);
  });

  it('checksum mismatch: names the file, the expected and the actual sha256; installs nothing', async () => {
    const s = setup();
    const other = join(s.dir, `Python-${FAKE_VERSION}.tgz`);
    execFileSync('tar', ['-czf', other, '-C', work, 'nvtx-include']);
    const err = await buildError(buildPython(s.opts({ tarball: other })));
    expect(err.message).toContain(`Checksum mismatch for ${other}`);
    expect(err.message).not.toMatch(/truncated/);
    expect(err.hint).toContain(`expected sha256 ${fake.release.preferred.sha256}`);
    expect(err.hint).toMatch(/actual {3}sha256 [0-9a-f]{64}/);
    expectNothingInstalled(s.prefix);
    expect(s.steps()).toEqual([]);
  });

  it('truncated tarball: says it is truncated', async () => {
    const s = setup();
    const cut = join(s.dir, 'cut.tgz');
    writeFileSync(cut, readFileSync(fake.tarball));
    truncateSync(cut, Math.floor(statSync(cut).size / 2));
    const err = await buildError(buildPython(s.opts({ tarball: cut })));
    expect(err.message).toContain(`Checksum mismatch for ${cut}`);
    expect(err.message).toMatch(/truncated or corrupt/);
    expectNothingInstalled(s.prefix);
  });

  it('a patch that does not apply is a clear error and leaves no tree behind', async () => {
    const s = setup();
    const err = await buildError(buildPython(s.opts({ patchFile: fake.badPatch })));
    expect(err.message).toMatch(/does not apply to CPython 3\.99\.1/);
    expect(err.hint).toMatch(/Hunk #1 FAILED|FAILED/);
    expectNothingInstalled(s.prefix);
    expect(s.steps()).toEqual([]);
  });

  it('an empty patch file is refused before any work', async () => {
    const s = setup();
    const empty = join(s.dir, 'empty.patch');
    writeFileSync(empty, '\n');
    const err = await buildError(buildPython(s.opts({ patchFile: empty })));
    expect(err.message).toBe(`The patch file ${empty} is empty.`);
    expect(err.exitCode).toBe(2);
    expectNothingInstalled(s.prefix);
    expect(s.steps()).toEqual([]);
  });

  it('an installed interpreter without the patch\'s symbol is refused: nothing installed, the tree dropped', async () => {
    const s = setup({ FAKE_INSTALL_ELF: '1' });
    const err = await buildError(buildPython(s.opts()));
    expect(err.message).toMatch(/python3\.99 does not carry the patch's _Py_gil_nvtx_version symbol/);
    expect(err.exitCode).toBe(2);
    expectNothingInstalled(s.prefix);
    expect(readdirSync(join(s.dir, 'cache', 'build'))).toEqual([]);
  });

  it('NVTX headers missing: error names where it looked, before any work', async () => {
    const s = setup({ NVTX_INCLUDE_DIR: join(work, 'no-such-nvtx') });
    const err = await buildError(buildPython(s.opts()));
    expect(err.message).toMatch(/NVTX headers not found/);
    expect(s.steps()).toEqual([]);
    expectNothingInstalled(s.prefix);
  });

  it('configure failure: message, log path and the last lines; re-run retries configure', async () => {
    const s = setup({ FAKE_CONFIGURE_FAIL: '1' });
    const err = await buildError(buildPython(s.opts()));
    expect(err.message).toMatch(/configure failed for CPython 3\.99\.1/);
    expect(err.hint).toContain('no acceptable C compiler found (fake)');
    const log = /Full log: (\S+)/.exec(err.hint!)![1]!;
    expect(readFileSync(log, 'utf8')).toContain('no acceptable C compiler found (fake)');
    expectNothingInstalled(s.prefix);
  });

  it('make failure: message with the compiler error; nothing installed', async () => {
    const s = setup({ FAKE_MAKE_FAIL: '1' });
    const err = await buildError(buildPython(s.opts()));
    expect(err.message).toMatch(/make failed for CPython 3\.99\.1/);
    expect(err.hint).toContain('fake compiler error');
    expectNothingInstalled(s.prefix);
  });

  it('an existing prefix that is not a matching build is refused and left alone', async () => {
    const s = setup();
    mkdirSync(s.prefix, { recursive: true });
    writeFileSync(join(s.prefix, 'keep.txt'), 'mine');
    const err = await buildError(buildPython(s.opts()));
    expect(err.message).toContain(`Prefix ${s.prefix} already exists`);
    expect(readFileSync(join(s.prefix, 'keep.txt'), 'utf8')).toBe('mine');
    expect(s.steps()).toEqual([]);
  });

  it('an unwritable prefix location is refused before building', async () => {
    const s = setup();
    const file = join(s.dir, 'a-file');
    writeFileSync(file, '');
    const err = await buildError(buildPython(s.opts({ prefix: join(file, 'py') })));
    expect(err.message).toMatch(/is not writable/);
    expect(s.steps()).toEqual([]);
  });

  it('--pyenv installs as <version>-gil-nvtx (<version>t-gil-nvtx free-threaded) under $(pyenv root)/versions', async () => {
    const s = setup();
    const bin = join(s.dir, 'bin');
    const root = join(s.dir, 'pyenv-root');
    mkdirSync(bin);
    writeFileSync(join(bin, 'pyenv'), `#!/bin/sh\n[ "$1" = root ] && echo ${root}\n`, { mode: 0o755 });
    const env = { ...s.env, PATH: `${bin}:${process.env.PATH}` };
    const r = await buildPython(s.opts({ env, prefix: undefined, pyenv: true }));
    expect(r.prefix).toBe(join(root, 'versions', `${FAKE_VERSION}-gil-nvtx`));
    expect(existsSync(r.python)).toBe(true);
    const t = await buildPython(s.opts({ env, prefix: undefined, pyenv: true, disableGil: true }));
    expect(t.prefix).toBe(join(root, 'versions', `${FAKE_VERSION}t-gil-nvtx`));
    const noPyenv = await buildError(buildPython(s.opts({ env: { ...s.env, PATH: '/nonexistent' }, prefix: undefined, pyenv: true })));
    expect(noPyenv.message).toMatch(/pyenv root/);
  });

  it('--disable-gil is refused for minors before 3.13', async () => {
    const s = setup();
    const err = await buildError(buildPython(s.opts({ release: undefined, version: '3.11.2', disableGil: true })));
    expect(err.message).toMatch(/--disable-gil needs CPython 3\.13/);
  });
});

describe('buildPython downloads', () => {
  let server: Server;
  let base: string;
  const served = new Map<string, Buffer>();
  beforeAll(async () => {
    server = createServer((req, res) => {
      const body = served.get(req.url ?? '');
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('downloads from python.org (or GIL_NVTX_PYTHON_ORG), verifies and caches', async () => {
    served.set(fake.release.preferred.path, readFileSync(fake.tarball));
    const s = setup({ GIL_NVTX_OFFLINE: '0', GIL_NVTX_PYTHON_ORG: base });
    const r = await buildPython(s.opts({ tarball: undefined }));
    expect(r.source).toBe('python.org');
    expect(existsSync(cachedTarballPath(fake.release.preferred.sha256, fake.release.preferred.file, s.env))).toBe(true);
  });

  it('a truncated download is a checksum error and is not cached', async () => {
    const whole = readFileSync(fake.tarball);
    served.set(fake.release.preferred.path, whole.subarray(0, whole.length >> 1));
    const s = setup({ GIL_NVTX_OFFLINE: '0', GIL_NVTX_PYTHON_ORG: base });
    const err = await buildError(buildPython(s.opts({ tarball: undefined })));
    expect(err.message).toMatch(/Checksum mismatch for http:.*truncated or corrupt download/);
    expect(err.hint).toContain(fake.release.preferred.sha256);
    expect(existsSync(join(s.env.GIL_NVTX_CACHE_DIR!, 'tarballs', fake.release.preferred.sha256))).toBe(true);
    expect(readdirSync(join(s.env.GIL_NVTX_CACHE_DIR!, 'tarballs', fake.release.preferred.sha256))).toEqual([]);
    expectNothingInstalled(s.prefix);
  });

  it('an unreachable python.org falls through and the final error lists every source tried', async () => {
    const s = setup({ GIL_NVTX_OFFLINE: '0', GIL_NVTX_PYTHON_ORG: 'http://127.0.0.1:9' });
    const err = await buildError(buildPython(s.opts({ tarball: undefined })));
    expect(err.message).toMatch(/Could not get the CPython 3\.99\.1 source tarball/);
    expect(err.hint).toMatch(/cache: no Python-3\.99\.1\.tgz/);
    expect(err.hint).toMatch(/python\.org: http:\/\/127\.0\.0\.1:9\/ftp/);
    expect(err.hint).toMatch(/apt-get source: no Debian suite carries 3\.99\.1/);
    expect(err.hint).toMatch(/--tarball/);
    expectNothingInstalled(s.prefix);
  });
});
