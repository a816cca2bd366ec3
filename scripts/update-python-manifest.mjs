#!/usr/bin/env node
// Regenerates lib/python/manifest.json, the CPython version manifest (read by lib/python/manifest.ts), from public facts:
//  - pyenv's python-build definitions (every 3.9–3.15 release pyenv ever listed; each URL ends `#<sha256>`),
//  - the Debian Sources indexes of the suites that carry a CPython minor (`apt-cache showsrc`, via a
//    private apt state folder: see lib/python/debian.ts).
// Usage: node scripts/update-python-manifest.mjs <pyenv git dir> <debian-facts.tsv>
//   debian-facts.tsv lines: suite package debian-version orig-file sha256 size served(yes|no)
// Nothing from pyenv is copied but the URL path and checksum of each release.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const [gitDir, debianTsv] = process.argv.slice(2);
if (!gitDir || !debianTsv) {
  console.error('usage: update-python-manifest.mjs <pyenv git dir> <debian-facts.tsv>');
  process.exit(2);
}
const DIR = 'plugins/python-build/share/python-build';
const git = (...args) => execFileSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
const head = git('rev-parse', 'HEAD').trim();
const names = [...new Set(git('log', '--all', '--name-only', '--format=', '--', `${DIR}/`).split('\n')
  .map((p) => p.slice(DIR.length + 1))
  // Final releases of 3.9–3.14; 3.15 has only pre-releases so far.
  .filter((n) => /^3\.(9|1[0-4])\.\d+$/.test(n) || /^3\.15\.\d+((a|b|rc)\d+)?$/.test(n)))];

const releases = {};
for (const name of names) {
  // The newest text of the definition that names its own files: withdrawn pre-releases exist only in
  // history, and pyenv sometimes edits a definition in place for the next pre-release before renaming it.
  let own = [];
  for (const commit of git('log', '--all', '--format=%H', '--', `${DIR}/${name}`).split('\n').filter(Boolean)) {
    let text;
    try {
      text = git('show', `${commit}:${DIR}/${name}`);
    } catch {
      continue; // the commit that deleted it
    }
    const urls = [...new Set(text.match(/https:\/\/www\.python\.org\/ftp\/python\/[^"\s]+#[0-9a-f]{64}/g) ?? [])];
    own = urls.filter((u) => u.split('#')[0].endsWith(`/Python-${name}.tar.xz`) || u.split('#')[0].endsWith(`/Python-${name}.tgz`));
    if (own.length) break;
  }
  if (own.length === 0) continue;
  releases[name] = {
    tarballs: own.map((u) => {
      const [url, sha256] = u.split('#');
      const path = url.slice('https://www.python.org'.length);
      return { file: path.split('/').pop(), path, sha256 };
    }).sort((a, b) => a.file.localeCompare(b.file)),
    checksumSource: 'pyenv',
  };
}

for (const line of readFileSync(debianTsv, 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const [suite, pkg, debianVersion, origFile, sha256, size, served] = line.split(/\s+/);
  const upstream = debianVersion.replace(/-[^-]+$/, '');
  const ext = origFile.endsWith('.orig.tar.gz') ? 'tgz' : 'tar.xz';
  const file = `Python-${upstream}.${ext}`;
  const base = upstream.replace(/(a|b|rc)\d+$/, '');
  const release = (releases[upstream] ??= {
    tarballs: [{ file, path: `/ftp/python/${base}/${file}`, sha256 }],
    checksumSource: 'debian',
  });
  const match = release.tarballs.find((t) => t.sha256 === sha256);
  if (!match) throw new Error(`Debian ${pkg} ${debianVersion}: orig sha256 ${sha256} matches no python.org tarball of ${upstream}`);
  release.debian = { suite, package: pkg, version: debianVersion, origFile, sha256, size: Number(size), served: served === 'yes' };
}

const key = (v) => v.match(/^(\d+)\.(\d+)\.(\d+)(?:(a|b|rc)(\d+))?$/).slice(1);
const order = (a, b) => {
  const [x, y] = [key(a), key(b)];
  for (let i = 0; i < 3; i++) if (+x[i] !== +y[i]) return +x[i] - +y[i];
  const rank = (k) => (k[3] ? { a: 0, b: 1, rc: 2 }[k[3]] * 1000 + +k[4] : 9999);
  return rank(x) - rank(y);
};
const sorted = Object.fromEntries(Object.keys(releases).sort(order).map((v) => [v, releases[v]]));
const manifest = {
  generatedBy: 'scripts/update-python-manifest.mjs (do not edit by hand; re-run the script)',
  sources:
    "Checksums are public facts: pyenv's python-build definitions and the Debian Sources indexes (served = the archive's pool returned the files when this was generated).",
  pyenvCommit: head,
  releases: sorted,
};
writeFileSync(new URL('../lib/python/manifest.json', import.meta.url), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`${Object.keys(sorted).length} releases`);
