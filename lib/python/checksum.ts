import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { capture } from './exec.js';

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Tests the compressed stream of a tarball (`gzip -t` / `xz -t`), so a checksum mismatch can say
 * whether the file is cut short or corrupt rather than merely a different file. Returns null if fine.
 */
export async function compressionProblem(path: string, name = path): Promise<string | null> {
  const tool = /\.(tar\.xz|txz)$/.test(name) ? 'xz' : /\.(tgz|tar\.gz)$/.test(name) ? 'gzip' : null;
  if (!tool) return null;
  const r = await capture(tool, ['-t', path]);
  if (r.code === 0) return null;
  return (r.stderr.trim().split('\n').pop() ?? `${tool} -t failed`).replace(/^.*?: /, '');
}
