import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../lib/python/checksum.js';
import { isDebianFamily } from '../../lib/python/debian.js';
import { findRelease } from '../../lib/python/manifest.js';
import { cachedTarballPath } from '../../lib/python/paths.js';
import { obtainTarball } from '../../lib/python/sources.js';
import { toolGate } from '../helpers/tools.js';

// CI machines are Debian; elsewhere the fallback does not apply. GIL_NVTX_REQUIRE_PYTHONS=1 (CI) makes
// a non-Debian machine a failure: the CI interpreters come from this path.
const gate = toolGate('a Debian-family system with apt-get', isDebianFamily(), 'GIL_NVTX_REQUIRE_PYTHONS');
const work = mkdtempSync(join(tmpdir(), 'gil-nvtx-apt-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function listing(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

describe.skipIf(gate.skip)('apt-get source fallback (offline from python.org)', () => {
  it('downloads 3.9.2 from bullseye deb-src with a private apt state, verifies it and caches it under the upstream name', { timeout: 600_000 }, async () => {
    const release = findRelease('3.9.2');
    const env = { ...process.env, GIL_NVTX_CACHE_DIR: join(work, 'cache'), GIL_NVTX_OFFLINE: '1' };
    const systemLists = listing('/var/lib/apt/lists');
    const systemParts = listing('/etc/apt/sources.list.d');
    const sourcesMtime = existsSync('/etc/apt/sources.list.d') ? statSync('/etc/apt/sources.list.d').mtimeMs : 0;
    const progress: string[] = [];
    const got = await obtainTarball(release, { env, onProgress: (m) => progress.push(m) });
    expect(got.source).toBe('apt-get source');
    expect(got.tarball.file).toBe('Python-3.9.2.tar.xz');
    expect(got.path).toBe(cachedTarballPath('3c2034c54f811448f516668dce09d24008a0716c3a794dd8639b5388cbde247d', 'Python-3.9.2.tar.xz', env));
    expect(await sha256File(got.path)).toBe(release.debian!.sha256);
    expect(progress.join('\n')).toMatch(/python\.org: skipped|apt-get source --download-only python3\.9=3\.9\.2-1/);
    // the system's apt configuration and indexes are untouched; the private state lives in our cache
    expect(listing('/var/lib/apt/lists')).toEqual(systemLists);
    expect(listing('/etc/apt/sources.list.d')).toEqual(systemParts);
    if (sourcesMtime) expect(statSync('/etc/apt/sources.list.d').mtimeMs).toBe(sourcesMtime);
    expect(listing(join(work, 'cache', 'apt', 'bullseye', 'lists')).some((f) => f.includes('bullseye'))).toBe(true);
    // the download folder is cleaned up
    expect(listing(join(work, 'cache', 'apt')).filter((f) => f.startsWith('download-'))).toEqual([]);
    // next time it comes from the cache
    const again = await obtainTarball(release, { env });
    expect(again.source).toBe('cache');
  });
});
