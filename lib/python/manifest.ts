import { GilNvtxError } from '../errors.js';
import { MANIFEST_DATA } from './manifest-data.js';

/** One upstream release file, as python.org publishes it. */
export interface UpstreamTarball {
  /** Upstream file name, e.g. `Python-3.11.2.tgz`; also the name in the tarball cache. */
  file: string;
  /** Path on python.org, e.g. `/ftp/python/3.11.2/Python-3.11.2.tgz`. */
  path: string;
  sha256: string;
}

/** A Debian source package whose `.orig` tarball is byte-identical to one upstream tarball. */
export interface DebianSource {
  suite: string;
  package: string;
  /** Debian version to ask `apt-get source` for, e.g. `3.11.2-6+deb12u8`. */
  version: string;
  origFile: string;
  sha256: string;
  size: number;
  /** The archive's pool served the files when the manifest was generated (sid lists some it 404s). */
  served: boolean;
}

export interface ReleaseData {
  tarballs: UpstreamTarball[];
  /** Where the checksums come from: pyenv's python-build definitions, or Debian's Sources index. */
  checksumSource: 'pyenv' | 'debian';
  debian?: DebianSource;
}

export type ManifestData = Record<string, ReleaseData>;

export interface Release extends ReleaseData {
  version: string;
  /** `3.11` for `3.11.2`. */
  minor: string;
  /** The tarball build-python fetches: Debian's orig when there is one (so every source agrees), else `.tar.xz`. */
  preferred: UpstreamTarball;
}

const VERSION_RE = /^3\.(\d+)\.(\d+)((?:a|b|rc)\d+)?$/;

export function minorOf(version: string): string {
  const m = VERSION_RE.exec(version);
  if (!m) throw new GilNvtxError(`'${version}' is not a CPython version (expected e.g. 3.11.2 or 3.15.0b4).`, { exitCode: 2 });
  return `3.${m[1]}`;
}

function toRelease(version: string, data: ReleaseData): Release {
  const preferred =
    data.tarballs.find((t) => t.sha256 === data.debian?.sha256) ??
    data.tarballs.find((t) => t.file.endsWith('.tar.xz')) ??
    data.tarballs[0];
  if (!preferred) throw new Error(`manifest entry ${version} has no tarball`);
  return { ...data, version, minor: minorOf(version), preferred };
}

/** Every release in the manifest, oldest first. */
export function releases(): Release[] {
  return Object.entries(MANIFEST_DATA).map(([v, d]) => toRelease(v, d));
}

/** The manifest entry for `version`; unknown versions are an error that lists the known ones of that minor. */
export function findRelease(version: string): Release {
  const data = MANIFEST_DATA[version];
  if (data) return toRelease(version, data);
  let minor: string | null = null;
  try {
    minor = minorOf(version);
  } catch {
    /* not even a version: list minors below */
  }
  const same = minor ? Object.keys(MANIFEST_DATA).filter((v) => minorOf(v) === minor) : [];
  const minors = [...new Set(Object.keys(MANIFEST_DATA).map(minorOf))];
  throw new GilNvtxError(`Unknown CPython version '${version}': it is not in gil-nvtx's version manifest.`, {
    hint: same.length
      ? `Known ${minor} releases: ${same.join(', ')}.`
      : `The manifest covers ${minors.join(', ')}; give a full release such as ${Object.keys(MANIFEST_DATA).at(-1)}.`,
    exitCode: 2,
  });
}

/** Releases whose Debian source package can be fetched with `apt-get source`. */
export function debianReleases(): Release[] {
  return releases().filter((r) => r.debian?.served);
}
