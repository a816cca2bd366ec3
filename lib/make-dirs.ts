import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` that fails instead of spinning: Node's `mkdirSync(…, { recursive: true })` loops for ever
 * on procfs and sysfs, where mkdir of a missing name says ENOENT although the parent exists
 * (`gil-nvtx trace -o /proc/x` used 100 % CPU until killed). This creates each missing folder from
 * the deepest existing one down, and throws the first error (ENOENT, EACCES, ENOTDIR…) as it comes.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(at) === at) throw err;
      missing.push(at);
      continue;
    }
    if (!isDir) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${at}'`), { code: 'ENOTDIR', path: at });
    break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      // Another process made it meanwhile: fine, as with mkdir -p.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(d).isDirectory()) throw err;
    }
  }
}
