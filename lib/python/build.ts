import { createHash } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { makeDirs } from '../make-dirs.js';
import { GilNvtxError } from '../errors.js';
import { findNvtxHeaders } from '../nvtx-headers.js';
import { sha256File } from './checksum.js';
import { capture, runLogged } from './exec.js';
import { withLock } from './lock.js';
import { debianReleases, findRelease, type Release } from './manifest.js';
import { resolvePatchFile } from './patch-file.js';
import { buildName, cacheRoot, cachedTarballPath, defaultPrefix } from './paths.js';
import { debianCodename, isDebianFamily } from './debian.js';
import { obtainTarball, type TarballSource } from './sources.js';
import { installThreadNames, threadNamesSha256 } from './thread-names.js';
import { ensureNvtxModule } from './nvtx-module.js';

export { defaultPrefix } from './paths.js';

export type BuildStage = 'download' | 'unpack' | 'patch' | 'configure' | 'make' | 'install' | 'done';

export interface BuildPythonOptions {
  version: string;
  prefix?: string;
  tarball?: string;
  jobs?: number;
  disableGil?: boolean;
  /** Install into `$(pyenv root)/versions/<version>-gil-nvtx` (`<version>t-gil-nvtx` with disableGil). */
  pyenv?: boolean;
  configureArgs?: string[];
  quiet?: boolean;
  onProgress?: (stage: BuildStage, message: string) => void;
  /** Environment for the NVTX header lookup, the cache location and the build (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Patch to apply instead of `patchFileFor(version)` (also `GIL_NVTX_PATCH_FILE`). */
  patchFile?: string;
  /** Manifest entry to use instead of looking `version` up (tests build small fake releases). */
  release?: Release;
  /**
   * Build the release as it is: no patch, no `-DPY_NVTX_GIL`, otherwise the same configure arguments.
   * The interpreter the benchmarks compare the patched one against (not offered on the CLI).
   */
  unpatched?: boolean;
  /**
   * Build the `gil_nvtx` Python module into the install (default: for patched builds). Not part of a
   * build's identity: a reused install that lacks it, or has an older one, gets it built.
   */
  nvtxModule?: boolean;
}

export interface BuildPythonResult {
  prefix: string;
  /** Absolute path of the installed interpreter. */
  python: string;
  version: string;
  disableGil: boolean;
  reused: boolean;
  /** Where the tarball came from (null when an installed build was reused). */
  source: TarballSource | null;
  log: string | null;
}

/** What a build is made of; written to `<prefix>/gil-nvtx-build.json`, and the key for reuse. */
export interface BuildStamp {
  tool: 'gil-nvtx build-python';
  stampVersion: 1;
  version: string;
  disableGil: boolean;
  tarball: string;
  sha256: string;
  patchFile: string;
  patchSha256: string;
  configureArgs: string[];
  nvtxIncludeDir: string;
  /** Interpreter path relative to the prefix. */
  python?: string;
  /** sha256 of the thread-naming sources installed beside the interpreter ('' when unpatched). */
  threadNamesSha256?: string;
  /** Whether the installed interpreter exports `_Py_gil_nvtx_version` (null: could not check). */
  patchedSymbol?: boolean | null;
  builtAt?: string;
}

export const STAMP_FILE = 'gil-nvtx-build.json';
const IDENTITY_KEYS = ['version', 'disableGil', 'sha256', 'patchSha256', 'configureArgs', 'nvtxIncludeDir', 'threadNamesSha256'] as const;

export function readStamp(prefix: string): BuildStamp | null {
  try {
    return JSON.parse(readFileSync(join(prefix, STAMP_FILE), 'utf8')) as BuildStamp;
  } catch {
    return null;
  }
}

function sameBuild(a: Partial<BuildStamp>, b: Partial<BuildStamp>): boolean {
  return IDENTITY_KEYS.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]));
}

/**
 * The version this machine can get without python.org: one already in the tarball cache, else the
 * one the system's own Debian suite carries (bookworm → 3.11.2), else 3.11.2.
 */
export function defaultDemoVersion(env: NodeJS.ProcessEnv = process.env): string {
  const debs = debianReleases();
  const codename = isDebianFamily() ? debianCodename() : null;
  const own = debs.find((r) => r.debian?.suite === codename);
  const cached = (r: (typeof debs)[number]) => existsSync(cachedTarballPath(r.preferred.sha256, r.preferred.file, env));
  // This system's own release first (what a fresh machine gets offline), then anything already downloaded.
  if (own && cached(own)) return own.version;
  return debs.find(cached)?.version ?? own?.version ?? '3.11.2';
}

async function pyenvRoot(env: NodeJS.ProcessEnv): Promise<string> {
  const r = await capture('pyenv', ['root'], { env });
  if (r.code !== 0 || !r.stdout.trim()) {
    throw new GilNvtxError('--pyenv: `pyenv root` failed; is pyenv installed and on PATH?', { hint: r.stderr.trim() || undefined, exitCode: 2 });
  }
  return r.stdout.trim();
}

/** Executable inside an installed prefix: `python3.13t`, `python3.13`, then `python3`. */
export function pythonIn(prefix: string, minor: string, disableGil: boolean): string | null {
  const names = [...(disableGil ? [`python${minor}t`] : []), `python${minor}`, 'python3'];
  for (const n of names) if (existsSync(join(prefix, 'bin', n))) return join(prefix, 'bin', n);
  return null;
}

function checkWritableParent(prefix: string): void {
  const parent = dirname(prefix);
  try {
    makeDirs(parent);
    accessSync(parent, constants.W_OK);
  } catch (err) {
    throw new GilNvtxError(`Cannot install into ${prefix}: ${parent} is not writable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`, {
      hint: 'Choose a --prefix in a folder you own; the build is staged beside the prefix and renamed into place.',
      exitCode: 2,
    });
  }
}

function minorNumber(minor: string): number {
  return Number(minor.split('.')[1]);
}

/**
 * Builds and installs a GIL-instrumented CPython: verified tarball → pristine tree → `patch -p1` →
 * configure (final prefix, `CFLAGS_NODIST=-DPY_NVTX_GIL -I<nvtx>`) → make → `make install DESTDIR=`
 * a staging folder beside the prefix → rename into place. A re-run with the same arguments reuses the
 * installed prefix (matching build stamp) or the built tree of a run that failed later.
 */
export async function buildPython(opts: BuildPythonOptions): Promise<BuildPythonResult> {
  const result = await buildInterpreter(opts);
  if (opts.nvtxModule ?? !(opts.unpatched ?? false)) {
    const env = opts.env ?? process.env;
    const module = await ensureNvtxModule(result.python, { env, log: result.log ?? undefined });
    if (module.built) {
      opts.onProgress?.('install', `the gil_nvtx module: ${module.path}`);
      if (!(opts.quiet ?? env.CI === 'true') && !opts.onProgress) process.stderr.write(`[install] the gil_nvtx module: ${module.path}\n`);
    }
  }
  return result;
}

async function buildInterpreter(opts: BuildPythonOptions): Promise<BuildPythonResult> {
  const env = opts.env ?? process.env;
  const quiet = opts.quiet ?? env.CI === 'true';
  const progress = (stage: BuildStage, message: string) => {
    opts.onProgress?.(stage, message);
    if (!quiet && !opts.onProgress) process.stderr.write(`[${stage}] ${message}\n`);
  };
  const release = opts.release ?? findRelease(opts.version);
  const disableGil = opts.disableGil ?? false;
  if (disableGil && minorNumber(release.minor) < 13) {
    throw new GilNvtxError(`--disable-gil needs CPython 3.13 or newer; ${release.version} has no free-threaded build.`, { exitCode: 2 });
  }
  if (opts.jobs !== undefined && (!Number.isInteger(opts.jobs) || opts.jobs < 1)) {
    throw new GilNvtxError(`--jobs must be a positive integer (got ${opts.jobs}).`, { exitCode: 2 });
  }
  const jobs = opts.jobs ?? Math.max(1, cpus().length);

  const unpatched = opts.unpatched ?? false;
  const patchFile = unpatched ? '' : resolve(opts.patchFile ?? env.GIL_NVTX_PATCH_FILE ?? (await resolvePatchFile(release.version)));
  if (!unpatched && !existsSync(patchFile)) throw new GilNvtxError(`Patch file not found: ${patchFile}.`, { exitCode: 2 });
  // `patch` applies an empty file without complaint, and the build would be an uninstrumented CPython.
  if (!unpatched && readFileSync(patchFile, 'utf8').trim() === '') {
    throw new GilNvtxError(`The patch file ${patchFile} is empty.`, { hint: 'Use the patch gil-nvtx ships for this version (leave out --patch / GIL_NVTX_PATCH_FILE).', exitCode: 2 });
  }
  const nvtxIncludeDir = unpatched ? '' : findNvtxHeaders(env).includeDir;

  let prefix: string;
  if (opts.pyenv && opts.prefix) throw new GilNvtxError('--pyenv and --prefix exclude each other: --pyenv picks the prefix.', { exitCode: 2 });
  if (opts.pyenv) prefix = join(await pyenvRoot(env), 'versions', `${buildName(release.version, disableGil)}-gil-nvtx`);
  else prefix = resolve(opts.prefix ?? defaultPrefix(release.version, { disableGil }, env));
  if (!isAbsolute(prefix)) throw new Error('unreachable: prefix resolved');

  const identity: BuildStamp = {
    tool: 'gil-nvtx build-python',
    stampVersion: 1,
    version: release.version,
    disableGil,
    tarball: release.preferred.file,
    sha256: release.preferred.sha256,
    patchFile,
    patchSha256: unpatched ? '' : await sha256File(patchFile),
    configureArgs: [
      `--prefix=${prefix}`,
      '--with-ensurepip=no',
      ...(disableGil ? ['--disable-gil'] : []),
      ...(opts.configureArgs ?? []),
      ...(unpatched ? [] : [`CFLAGS_NODIST=-DPY_NVTX_GIL -I${nvtxIncludeDir}`]),
    ],
    nvtxIncludeDir,
    threadNamesSha256: unpatched ? '' : threadNamesSha256(),
  };

  if (existsSync(prefix)) {
    const stamp = readStamp(prefix);
    const python = stamp?.python ? join(prefix, stamp.python) : null;
    // --tarball may name the .tgz where the manifest prefers the .tar.xz: same release, same sources.
    if (stamp && python && existsSync(python) && sameBuild({ ...stamp, sha256: identity.sha256 }, identity) &&
        release.tarballs.some((t) => t.sha256 === stamp.sha256)) {
      progress('done', `${prefix} already holds this build; reusing it`);
      return { prefix, python, version: release.version, disableGil, reused: true, source: null, log: null };
    }
    throw new GilNvtxError(`Prefix ${prefix} already exists${stamp ? ' and holds a different build' : ''}; not overwriting it.`, {
      hint: stamp
        ? `It holds ${stamp.version}${stamp.disableGil ? ' (free-threaded)' : ''} built with other arguments. Remove it or pick another --prefix.`
        : 'Remove it or pick another --prefix.',
      exitCode: 2,
    });
  }
  checkWritableParent(prefix);

  const key = createHash('sha256').update(JSON.stringify(IDENTITY_KEYS.map((k) => identity[k]))).digest('hex').slice(0, 16);
  const root = cacheRoot(env);
  const buildDir = join(root, 'build', `${buildName(release.version, disableGil)}-${key}`);
  const log = join(root, 'logs', `build-${buildName(release.version, disableGil)}-${key}.log`);
  makeDirs(dirname(log));

  return withLock(`${buildDir}.lock`, async () => {
    if (existsSync(prefix)) {
      // Another process with the same arguments finished while we waited for the lock.
      const stamp = readStamp(prefix);
      if (stamp && sameBuild(stamp, identity) && stamp.python) {
        return { prefix, python: join(prefix, stamp.python), version: release.version, disableGil, reused: true, source: null, log };
      }
      throw new GilNvtxError(`Prefix ${prefix} appeared while waiting for another build; not overwriting it.`, { exitCode: 2 });
    }
    writeFileSync(log, `gil-nvtx build-python ${release.version}${disableGil ? ' --disable-gil' : ''} → ${prefix}\n${JSON.stringify(identity, null, 2)}\n`);

    progress('download', `getting ${release.preferred.file} (sha256 ${release.preferred.sha256.slice(0, 12)}…)`);
    const got = await obtainTarball(release, { tarball: opts.tarball, env, onProgress: (m) => progress('download', m) });
    progress('download', `${got.path} (from ${got.source}, sha256 verified)`);

    const src = join(buildDir, 'src');
    const fail = (stage: BuildStage, what: string, tail: string[], hint?: string) =>
      new GilNvtxError(`${what}.`, {
        hint: `${hint ? `${hint}\n` : ''}Full log: ${log}\nLast lines:\n${tail.map((l) => `  ${l}`).join('\n')}`,
        exitCode: stage === 'patch' ? 2 : 1,
      });

    if (!existsSync(join(buildDir, '.patched'))) {
      rmSync(buildDir, { recursive: true, force: true });
      const fresh = join(buildDir, 'src.tmp');
      makeDirs(fresh);
      progress('unpack', `unpacking into ${buildDir}`);
      const untar = await runLogged('tar', ['-xf', got.path, '-C', fresh, '--strip-components=1', '--no-same-owner'], { log });
      if (untar.code !== 0) {
        rmSync(buildDir, { recursive: true, force: true });
        throw fail('unpack', `Unpacking ${got.path} failed (truncated or corrupt tarball?)`, untar.tail);
      }
      if (unpatched) progress('patch', 'none: building the release as it is');
      else {
        progress('patch', `patch -p1 < ${patchFile}`);
        const patch = await runLogged('patch', ['-p1', '--forward', '--batch', '--no-backup-if-mismatch', '-i', patchFile], { cwd: fresh, log });
        if (patch.code !== 0) {
          rmSync(buildDir, { recursive: true, force: true });
          throw fail('patch', `The patch ${patchFile} does not apply to CPython ${release.version}`, patch.tail,
            'Each patch must apply with `patch -p1` to a pristine tree of a release of its minor; this looks like a patch/version mismatch.');
        }
      }
      renameSync(fresh, src);
      writeFileSync(join(buildDir, '.patched'), patchFile + '\n');
    } else {
      progress('patch', `reusing the patched tree in ${src}`);
    }

    const buildEnv = { ...env, LC_ALL: 'C' };
    if (!existsSync(join(buildDir, '.configured'))) {
      progress('configure', `./configure ${identity.configureArgs.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`);
      const conf = await runLogged('./configure', identity.configureArgs, { cwd: src, log, env: buildEnv });
      if (conf.code !== 0) throw fail('configure', `configure failed for CPython ${release.version} (exit ${conf.code})`, conf.tail);
      writeFileSync(join(buildDir, '.configured'), '');
    }

    if (!existsSync(join(buildDir, '.built'))) {
      progress('make', `make -j${jobs} (log: ${log})`);
      // Shared 2-core machines: build at lower priority when nice exists.
      const niceable = existsSync('/usr/bin/nice') || existsSync('/bin/nice');
      const makeArgs = [`-j${jobs}`];
      let lines = 0;
      const onLine = () => {
        if (++lines % 400 === 0) progress('make', `${lines} lines of output so far`);
      };
      const make = niceable
        ? await runLogged('nice', ['-n', '10', 'make', ...makeArgs], { cwd: src, log, env: buildEnv, onLine })
        : await runLogged('make', makeArgs, { cwd: src, log, env: buildEnv, onLine });
      if (make.code !== 0) throw fail('make', `make failed for CPython ${release.version} (exit ${make.code})`, make.tail);
      writeFileSync(join(buildDir, '.built'), '');
    } else {
      progress('make', `reusing the built tree in ${src}`);
    }

    const staging = `${prefix}.tmp-${process.pid}`;
    removeDeadStaging(prefix);
    rmSync(staging, { recursive: true, force: true });
    try {
      progress('install', `make install DESTDIR=${staging}`);
      const inst = await runLogged('make', ['install', `DESTDIR=${staging}`], { cwd: src, log, env: buildEnv });
      if (inst.code !== 0) throw fail('install', `make install failed for CPython ${release.version} (exit ${inst.code})`, inst.tail);
      const staged = join(staging, prefix);
      const stagedPython = pythonIn(staged, release.minor, disableGil);
      if (!stagedPython) throw fail('install', `make install put no python${release.minor} into ${join(staged, 'bin')}`, []);
      if (!unpatched) {
        try {
          await requireGilNvtxSymbol(stagedPython);
        } catch (err) {
          // That tree is built without the instrumentation: nothing in it is worth reusing.
          rmSync(buildDir, { recursive: true, force: true });
          throw err;
        }
        progress('install', 'the thread-naming module (_gil_nvtx) and its start-up hook');
        await installThreadNames(staged, nvtxIncludeDir, log);
      }
      const stamp: BuildStamp = {
        ...identity,
        tarball: got.tarball.file,
        sha256: got.tarball.sha256,
        python: stagedPython.slice(staged.length + 1),
        patchedSymbol: await hasGilNvtxSymbol(stagedPython),
        builtAt: new Date().toISOString(),
      };
      writeFileSync(join(staged, STAMP_FILE), JSON.stringify(stamp, null, 2) + '\n');
      try {
        renameSync(staged, prefix);
      } catch (err) {
        throw new GilNvtxError(`Could not move the finished build into ${prefix}: ${(err as Error).message}.`, { exitCode: 2 });
      }
      progress('done', `installed ${join(prefix, stamp.python!)}`);
      rmSync(buildDir, { recursive: true, force: true });
      return { prefix, python: join(prefix, stamp.python!), version: release.version, disableGil, reused: false, source: got.source, log };
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  });
}

/**
 * Removes `<prefix>.tmp-<pid>` folders whose process is gone: a build killed outright (SIGKILL, a
 * crash) between its `make install` and the rename. A live pid's folder is another build's, in progress.
 */
function removeDeadStaging(prefix: string): void {
  const dir = dirname(prefix);
  const lead = `${basename(prefix)}.tmp-`;
  for (const name of readdirSync(dir)) {
    const rest = name.startsWith(lead) ? name.slice(lead.length) : '';
    const pid = /^\d+$/.test(rest) ? Number(rest) : 0;
    if (!pid || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(dir, name), { recursive: true, force: true });
    }
  }
}

/**
 * Fails unless `python` (or the libpython beside it) carries the patch's `_Py_gil_nvtx_version`: a
 * patch that applied yet instrumented nothing (the wrong file, a hunk of another function) must not
 * install as a GIL-instrumented CPython. A non-ELF `python` (a wrapper script) cannot be checked here.
 */
export async function requireGilNvtxSymbol(python: string): Promise<void> {
  const has = await hasGilNvtxSymbol(python);
  if (has === true) return;
  if (has === false) {
    throw new GilNvtxError(`${python} does not carry the patch's _Py_gil_nvtx_version symbol: the patch applied but did not instrument the GIL.`, {
      hint: 'The patch file is not a gil-nvtx GIL patch for this version (see patches/); nothing was installed.',
      exitCode: 2,
    });
  }
  const nm = await capture('nm', ['--version']);
  if (nm.code !== 0) {
    throw new GilNvtxError(`Cannot check that ${python} is instrumented: nm was not found.`, { hint: 'Install binutils (nm), which a CPython build needs anyway.', exitCode: 2 });
  }
}

/**
 * Whether an interpreter binary (or the libpython beside it) exports the patch's `_Py_gil_nvtx_version`.
 * null when it cannot be told (no `nm`, not an ELF file).
 */
export async function hasGilNvtxSymbol(python: string): Promise<boolean | null> {
  const candidates = [python];
  const lib = join(dirname(python), '..', 'lib');
  try {
    for (const f of readdirSync(lib)) if (/^libpython3.*\.so/.test(f)) candidates.push(join(lib, f));
  } catch {
    /* no lib folder */
  }
  let sawElf = false;
  for (const file of candidates) {
    try {
      if (!statSync(file).isFile()) continue;
      const head = Buffer.alloc(4);
      const fd = openSync(file, 'r');
      readSync(fd, head, 0, 4, 0);
      closeSync(fd);
      if (head.toString('latin1') !== '\x7fELF') continue;
    } catch {
      continue;
    }
    sawElf = true;
    const r = await capture('nm', ['-D', '--defined-only', file]);
    if (r.code === null) return null;
    if (/\b_Py_gil_nvtx_version\b/.test(r.stdout)) return true;
    const s = await capture('nm', ['--defined-only', file]);
    if (/\b_Py_gil_nvtx_version\b/.test(s.stdout)) return true;
  }
  return sawElf ? false : null;
}
