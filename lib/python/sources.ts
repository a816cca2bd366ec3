import { copyFileSync, createWriteStream, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { makeDirs } from '../make-dirs.js';
import { GilNvtxError } from '../errors.js';
import { compressionProblem, sha256File } from './checksum.js';
import { aptSourceDownload, isDebianFamily } from './debian.js';
import type { Release, UpstreamTarball } from './manifest.js';
import { cacheRoot, cachedTarballPath } from './paths.js';

export type TarballSource = '--tarball' | 'cache' | 'python.org' | 'apt-get source';

export interface ObtainedTarball {
  /** Verified copy in the tarball cache. */
  path: string;
  tarball: UpstreamTarball;
  source: TarballSource;
}

export interface ObtainOptions {
  tarball?: string;
  env?: NodeJS.ProcessEnv;
  onProgress?: (message: string) => void;
  /** Give up on python.org when it has not answered within this many ms (default 8000). */
  downloadTimeoutMs?: number;
}

const PYTHON_ORG = 'https://www.python.org';

/**
 * Gets the release's tarball: `--tarball`, then the cache, then python.org, then (Debian family)
 * `apt-get source --download-only`. Every file is checked against the manifest's sha256 before use and
 * lands in the cache, so the next build is offline.
 */
export async function obtainTarball(release: Release, opts: ObtainOptions = {}): Promise<ObtainedTarball> {
  const env = opts.env ?? process.env;
  const say = opts.onProgress ?? (() => {});
  if (opts.tarball) {
    if (!existsSync(opts.tarball) || !statSync(opts.tarball).isFile()) {
      throw new GilNvtxError(`--tarball ${opts.tarball}: no such file.`, { exitCode: 2 });
    }
    say(`verifying ${opts.tarball}`);
    const tarball = await verifyAgainst(release, opts.tarball, [release.preferred, ...release.tarballs.filter((t) => t !== release.preferred)]);
    return { path: cacheCopy(opts.tarball, tarball, env, false), tarball, source: '--tarball' };
  }

  const tried: string[] = [];
  for (const t of [release.preferred, ...release.tarballs.filter((x) => x !== release.preferred)]) {
    const cached = cachedTarballPath(t.sha256, t.file, env);
    if (!existsSync(cached)) continue;
    if ((await sha256File(cached)) === t.sha256) {
      say(`using cached ${cached}`);
      return { path: cached, tarball: t, source: 'cache' };
    }
    // A damaged cache entry is not the user's file: drop it and fetch again.
    rmSync(cached, { force: true });
    tried.push(`cache: ${cached} had the wrong sha256 and was removed`);
  }
  tried.push(`cache: no ${release.tarballs.map((t) => t.file).join(' / ')} under ${join(cacheRoot(env), 'tarballs')}`);

  if (env.GIL_NVTX_OFFLINE !== '1') {
    const base = env.GIL_NVTX_PYTHON_ORG || PYTHON_ORG;
    const t = release.preferred;
    const url = base + t.path;
    say(`downloading ${url}`);
    try {
      return { path: await download(url, t, env, opts.downloadTimeoutMs ?? 8000), tarball: t, source: 'python.org' };
    } catch (err) {
      if (err instanceof GilNvtxError) throw err; // a checksum mismatch is not a reason to try elsewhere
      tried.push(`python.org: ${url}: ${(err as Error).message}`);
      say(`python.org not reachable (${(err as Error).message}), trying the next source`);
    }
  } else {
    tried.push('python.org: skipped (GIL_NVTX_OFFLINE=1)');
  }

  const deb = release.debian;
  if (deb && env.GIL_NVTX_NO_APT !== '1' && isDebianFamily()) {
    say(`apt-get source --download-only ${deb.package}=${deb.version} (deb-src ${deb.suite}, private apt state)`);
    const work = join(cacheRoot(env), 'apt', `download-${process.pid}`);
    try {
      const orig = await aptSourceDownload(deb, join(cacheRoot(env), 'apt'), work);
      const tarball = await verifyAgainst(release, orig, release.tarballs);
      return { path: cacheCopy(orig, tarball, env, true), tarball, source: 'apt-get source' };
    } catch (err) {
      if (err instanceof GilNvtxError) throw err;
      tried.push(`apt-get source: ${(err as Error).message}`);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  } else if (deb) {
    tried.push(`apt-get source: ${env.GIL_NVTX_NO_APT === '1' ? 'skipped (GIL_NVTX_NO_APT=1)' : 'not a Debian-family system with apt-get'}`);
  } else {
    tried.push(`apt-get source: no Debian suite carries ${release.version}`);
  }

  throw new GilNvtxError(`Could not get the CPython ${release.version} source tarball.`, {
    hint:
      `Tried:\n${tried.map((l) => `  - ${l}`).join('\n')}\n` +
      `Download ${release.preferred.file} yourself (${PYTHON_ORG}${release.preferred.path}) and pass --tarball <file>, ` +
      `or copy it to ${cachedTarballPath(release.preferred.sha256, release.preferred.file, env)}.`,
  });
}

/** Checks a file against the release's known checksums; a mismatch names the file, expected and actual hash. */
async function verifyAgainst(release: Release, file: string, candidates: UpstreamTarball[]): Promise<UpstreamTarball> {
  const actual = await sha256File(file);
  const match = candidates.find((t) => t.sha256 === actual);
  if (match) return match;
  const damage = await compressionProblem(file);
  const expected = candidates.map((t) => `${t.sha256} (${t.file})`).join('\n    or ');
  throw new GilNvtxError(
    `Checksum mismatch for ${file}: ${damage ? `the tarball is truncated or corrupt (${damage}); ` : ''}` +
      `it is not a CPython ${release.version} release tarball.`,
    {
      hint: `  expected sha256 ${expected}\n  actual   sha256 ${actual}\n` +
        (damage ? 'Download it again.' : `Pass the python.org ${release.version} tarball itself, unmodified.`),
    },
  );
}

/** Puts a verified file into the cache (copy, then rename: readers never see a partial file). */
function cacheCopy(from: string, t: UpstreamTarball, env: NodeJS.ProcessEnv, move: boolean): string {
  const dest = cachedTarballPath(t.sha256, t.file, env);
  if (existsSync(dest)) return dest;
  makeDirs(join(dest, '..'));
  const part = `${dest}.part-${process.pid}`;
  if (move) {
    try {
      renameSync(from, part);
    } catch {
      copyFileSync(from, part);
    }
  } else copyFileSync(from, part);
  renameSync(part, dest);
  return dest;
}

async function download(url: string, t: UpstreamTarball, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  const dest = cachedTarballPath(t.sha256, t.file, env);
  makeDirs(join(dest, '..'));
  const part = `${dest}.part-${process.pid}`;
  // The timeout covers connecting and the response headers; a body that stalls is caught by the idle timer.
  const ac = new AbortController();
  let timer = setTimeout(() => ac.abort(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  try {
    const res = await fetch(url, { signal: ac.signal });
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    body.on('data', () => {
      clearTimeout(timer);
      timer = setTimeout(() => ac.abort(new Error(`download stalled for ${(timeoutMs * 4) / 1000} s`)), timeoutMs * 4);
    });
    await pipeline(body, createWriteStream(part));
  } catch (err) {
    rmSync(part, { force: true });
    const e = err as Error & { cause?: Error };
    throw new Error(e.cause?.message ?? e.message);
  } finally {
    clearTimeout(timer);
  }
  const actual = await sha256File(part);
  if (actual !== t.sha256) {
    const damage = await compressionProblem(part, t.file);
    rmSync(part, { force: true });
    throw new GilNvtxError(`Checksum mismatch for ${url} (${t.file}): ${damage ? `truncated or corrupt download (${damage})` : 'the server sent a different file'}.`, {
      hint: `  expected sha256 ${t.sha256}\n  actual   sha256 ${actual}\nNothing was cached. Try again, or pass a verified --tarball.`,
    });
  }
  renameSync(part, dest);
  return dest;
}
