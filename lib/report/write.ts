// Output files are written whole or not at all: to a temp path beside the target, then renamed.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { GilNvtxError } from '../errors.js';

export interface ChunkWriter {
  write(s: string): void;
}

/** Calls `fill` with a buffered writer; on success the file appears at `path`, on failure nothing does. */
export function writeFileAtomic(path: string, fill: (out: ChunkWriter) => void): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (err) {
    throw new GilNvtxError(`cannot write ${path}: ${(err as Error).message}`, { hint: 'Check that the folder exists and is writable.' });
  }
  let pending: string[] = [];
  let size = 0;
  const flush = () => {
    if (pending.length > 0) writeSync(fd, pending.join(''));
    pending = [];
    size = 0;
  };
  try {
    fill({
      write(s: string) {
        pending.push(s);
        size += s.length;
        if (size > 1 << 20) flush();
      },
    });
    flush();
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    rmSync(tmp, { force: true });
    if (err instanceof GilNvtxError) throw err;
    throw new GilNvtxError(`writing ${path} failed: ${(err as Error).message}`, { cause: err });
  }
}
