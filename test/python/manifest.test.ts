import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GilNvtxError } from '../../lib/errors.js';
import { debianCodename, isDebianFamily } from '../../lib/python/debian.js';
import { defaultDemoVersion, defaultPrefix } from '../../lib/python/build.js';
import { debianReleases, findRelease, minorOf, releases } from '../../lib/python/manifest.js';

// Facts checked by hand against python.org's tarballs and Debian's orig tarballs.
const NOTES_TABLE: Record<string, [string, string]> = {
  '3.9.2': ['Python-3.9.2.tar.xz', '3c2034c54f811448f516668dce09d24008a0716c3a794dd8639b5388cbde247d'],
  '3.10.4': ['Python-3.10.4.tar.xz', '80bf925f571da436b35210886cf79f6eb5fa5d6c571316b73568343451f77a19'],
  '3.10.12': ['Python-3.10.12.tar.xz', 'afb74bf19130e7a47d10312c8f5e784f24e0527981eab68e20546cfb865830b8'],
  '3.10.20': ['Python-3.10.20.tar.xz', 'de6517421601e39a9a3bc3e1bc4c7b2f239297423ee05e282598c83ec0647505'],
  '3.11.2': ['Python-3.11.2.tgz', '2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849'],
  '3.12.3': ['Python-3.12.3.tar.xz', '56bfef1fdfc1221ce6720e43a661e3eb41785dd914ce99698d8c7896af4bdaa1'],
  '3.12.13': ['Python-3.12.13.tar.xz', 'c08bc65a81971c1dd5783182826503369466c7e67374d1646519adf05207b684'],
  '3.13.5': ['Python-3.13.5.tar.xz', '93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640'],
  '3.14.4': ['Python-3.14.4.tar.xz', 'd923c51303e38e249136fc1bdf3568d56ecb03214efdef48516176d3d7faaef8'],
  '3.15.0b1': ['Python-3.15.0b1.tar.xz', 'd4d52ccfa1d727ef5235fbb7d70fa1dbacf10b8b3760db622875da05acbe437c'],
};

describe('CPython version manifest', () => {
  it('holds the checksums of the notes table', () => {
    for (const [version, [file, sha256]] of Object.entries(NOTES_TABLE)) {
      const r = findRelease(version);
      expect(r.tarballs).toContainEqual(expect.objectContaining({ file, sha256 }));
    }
    expect(findRelease('3.15.0b1').tarballs.find((t) => t.file.endsWith('.tar.xz'))!.path).toBe('/ftp/python/3.15.0/Python-3.15.0b1.tar.xz');
  });

  it('covers every patch release of 3.9 through 3.14 and the 3.15 pre-releases, with well-formed entries', () => {
    const all = releases();
    const byMinor = new Map<string, string[]>();
    for (const r of all) byMinor.set(r.minor, [...(byMinor.get(r.minor) ?? []), r.version]);
    expect([...byMinor.keys()]).toEqual(['3.9', '3.10', '3.11', '3.12', '3.13', '3.14', '3.15']);
    // no gaps from x.y.0 to the newest listed patch release (3.9.3 was withdrawn upstream but is listed)
    for (const minor of ['3.10', '3.11', '3.12', '3.13']) {
      const patches = byMinor.get(minor)!.map((v) => Number(v.split('.')[2]));
      const max = Math.max(...patches);
      for (let p = 0; p <= Math.min(max, 13); p++) expect(patches, `${minor}.${p}`).toContain(p);
    }
    expect(byMinor.get('3.15')).toEqual(expect.arrayContaining(['3.15.0a1', '3.15.0b1', '3.15.0b4']));
    for (const r of all) {
      expect(minorOf(r.version)).toBe(r.minor);
      expect(r.tarballs.length).toBeGreaterThan(0);
      for (const t of r.tarballs) {
        expect(t.sha256).toMatch(/^[0-9a-f]{64}$/);
        expect(t.path).toBe(`/ftp/python/${r.version.replace(/(a|b|rc)\d+$/, '')}/${t.file}`);
        expect(t.file).toMatch(new RegExp(`^Python-${r.version.replace(/\./g, '\\.')}\\.(tgz|tar\\.xz)$`));
      }
      expect(r.tarballs).toContain(r.preferred);
    }
    const shas = all.flatMap((r) => r.tarballs.map((t) => t.sha256));
    expect(new Set(shas).size).toBe(shas.length);
  });

  it('records which Debian source package carries which upstream release, and prefers that tarball', () => {
    const deb = Object.fromEntries(debianReleases().map((r) => [r.version, r.debian!]));
    expect(deb['3.9.2']).toMatchObject({ suite: 'bullseye', package: 'python3.9', version: '3.9.2-1', origFile: 'python3.9_3.9.2.orig.tar.xz' });
    expect(deb['3.11.2']).toMatchObject({ suite: 'bookworm', package: 'python3.11', version: '3.11.2-6+deb12u8', origFile: 'python3.11_3.11.2.orig.tar.gz' });
    expect(deb['3.13.5']).toMatchObject({ suite: 'trixie', package: 'python3.13', version: '3.13.5-2+deb13u5' });
    expect(deb['3.13.15']).toMatchObject({ suite: 'sid', package: 'python3.13', version: '3.13.15-1', sha256: '1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76' });
    for (const [version, d] of Object.entries(deb)) expect(findRelease(version).preferred.sha256).toBe(d.sha256);
    expect(findRelease('3.11.2').preferred.file).toBe('Python-3.11.2.tgz');
    // listed in sid's index but not served by the pool: not offered as a Debian source
    expect(Object.keys(deb)).not.toContain('3.14.10');
    expect(findRelease('3.14.10').debian?.served).toBe(false);
  });

  it('an unknown version is an error that lists what is known', () => {
    expect(() => findRelease('3.11.99')).toThrow(GilNvtxError);
    try {
      findRelease('3.11.99');
    } catch (err) {
      expect((err as GilNvtxError).message).toContain("Unknown CPython version '3.11.99'");
      expect((err as GilNvtxError).hint).toMatch(/Known 3\.11 releases: 3\.11\.0, .*3\.11\.15/);
      expect((err as GilNvtxError).exitCode).toBe(2);
    }
    expect(() => findRelease('banana')).toThrow(/Unknown CPython version 'banana'/);
    expect(() => findRelease('3.8.10')).toThrow(GilNvtxError);
  });

  it('defaultDemoVersion is one this machine can get offline (its Debian suite\'s), defaultPrefix names free-threaded builds with t', () => {
    const env = { ...process.env, GIL_NVTX_CACHE_DIR: '/nonexistent/gil-nvtx-cache', XDG_DATA_HOME: '/data' };
    const demo = defaultDemoVersion(env);
    const suite = isDebianFamily() ? debianCodename() : null;
    const carried = debianReleases().find((r) => r.debian!.suite === suite);
    expect(demo).toBe(carried ? carried.version : '3.11.2');
    expect(defaultPrefix('3.13.5', { disableGil: true }, env)).toBe('/data/gil-nvtx/pythons/3.13.5t');
    expect(defaultPrefix('3.11.2', {}, env)).toBe('/data/gil-nvtx/pythons/3.11.2');
  });

  it('is data the package ships: dist/python/manifest.json, read by the built manifest module', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    // What `npm pack` puts in the tarball (dist/ as built by `npx tsc -p tsconfig.build.json`).
    const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    expect(pack.status, pack.stderr).toBe(0);
    const files = (JSON.parse(pack.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toContain('dist/python/manifest.json');
    expect(files).toContain('dist/python/manifest.js');
    const built = spawnSync(process.execPath, ['--input-type=module', '-e', "const m = await import('./dist/python/manifest.js'); console.log(m.findRelease('3.11.2').preferred.file, m.releases().length)"], { cwd: root, encoding: 'utf8' });
    expect(built.status, built.stderr).toBe(0);
    expect(built.stdout.trim()).toBe(`${findRelease('3.11.2').preferred.file} ${releases().length}`);
  });
});
