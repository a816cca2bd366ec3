import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeDirs } from '../make-dirs.js';
import type { DebianSource } from './manifest.js';
import { capture } from './exec.js';

const execFileP = promisify(execFile);
// lib/python and dist/python both sit two levels under the package root.
const APT_SOURCES = fileURLToPath(new URL('../../scripts/ci/apt-sources.sh', import.meta.url));

/** True on Debian and its derivatives (ID or ID_LIKE in /etc/os-release) that have apt-get. */
export function isDebianFamily(osRelease = '/etc/os-release'): boolean {
  let text = '';
  try {
    text = readFileSync(osRelease, 'utf8');
  } catch {
    return false;
  }
  const ids = /^(?:ID|ID_LIKE)=(.*)$/gm;
  let m: RegExpExecArray | null;
  let debian = false;
  while ((m = ids.exec(text))) if (/\bdebian\b/.test(m[1]!.replace(/"/g, ''))) debian = true;
  return debian && existsSync('/usr/bin/apt-get');
}

/** VERSION_CODENAME from /etc/os-release (`bookworm`), or null. */
export function debianCodename(osRelease = '/etc/os-release'): string | null {
  try {
    const m = /^VERSION_CODENAME=(.*)$/m.exec(readFileSync(osRelease, 'utf8'));
    return m ? m[1]!.replace(/"/g, '').trim() || null : null;
  } catch {
    return null;
  }
}

/**
 * A private apt configuration for one suite's deb-src entry: its own sources list, index folder and
 * cache, so the system's apt setup is never touched and no root is needed. The mirror URI and keyring
 * come from the system's own Debian sources (scripts/ci/apt-sources.sh), never from this repository.
 */
async function privateApt(stateDir: string, suite: string): Promise<string[]> {
  const parts = join(stateDir, 'sources.list.d');
  for (const d of [parts, join(stateDir, 'lists', 'partial'), join(stateDir, 'cache', 'archives', 'partial')]) makeDirs(d);
  const { stdout } = await execFileP('bash', [APT_SOURCES, 'main', 'deb-src', suite]);
  writeFileSync(join(parts, 'gil-nvtx-src.sources'), stdout);
  writeFileSync(join(stateDir, 'sources.list'), '');
  return [
    '-o', `Dir::Etc::SourceList=${join(stateDir, 'sources.list')}`,
    '-o', `Dir::Etc::SourceParts=${parts}`,
    '-o', `Dir::State::Lists=${join(stateDir, 'lists')}`,
    '-o', `Dir::Cache=${join(stateDir, 'cache')}`,
    // apt would otherwise hand the download to its `_apt` user, which cannot write into our folders.
    '-o', `APT::Sandbox::User=${userInfo().username}`,
  ];
}

/**
 * `apt-get source --download-only <package>=<version>` into `workDir`; returns the path of the
 * `.orig` tarball. Throws an Error with apt's last lines when apt fails.
 */
export async function aptSourceDownload(src: DebianSource, stateDir: string, workDir: string, timeoutMs = 300_000): Promise<string> {
  const opts = await privateApt(join(stateDir, src.suite), src.suite);
  const update = await capture('apt-get', [...opts, '-q', 'update'], { timeoutMs });
  if (update.code !== 0) throw new Error(`apt-get update (deb-src ${src.suite}) failed: ${lastLines(update.stderr || update.stdout)}`);
  makeDirs(workDir);
  const get = await capture('apt-get', [...opts, '-q', 'source', '--download-only', `${src.package}=${src.version}`], { cwd: workDir, timeoutMs });
  const orig = join(workDir, src.origFile);
  if (get.code !== 0 || !existsSync(orig)) {
    throw new Error(`apt-get source ${src.package}=${src.version} (${src.suite}) failed: ${lastLines(get.stderr || get.stdout)}`);
  }
  return orig;
}

function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
