// Every file the CLI writes for the user goes through here, so that a failed write leaves nothing
// half-written and a path that is not a regular file keeps being what it is:
//  - a regular file, or nothing yet: written to a temp file beside it, then renamed over it, so a
//    reader sees the old content or the whole new one, never a cut one;
//  - a symlink: followed, and the rule applies to what it points at (the link itself stays);
//  - a FIFO, a character device, a socket (`/dev/stdout`, a pipe to a viewer): written in place,
//    because renaming over it would replace a device node or a FIFO by a regular file;
//  - a directory: an error.
import { closeSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, openSync, readlinkSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { GilNvtxError } from './errors.js';

export interface ChunkWriter {
  write(s: string): void;
}

export type OutputKind = 'regular' | 'missing' | 'special';

/** The path a write to `path` lands on (symlinks followed, even dangling ones) and what lives there. */
export function outputTarget(path: string): { path: string; kind: OutputKind } {
  let at = resolve(path);
  // A symlink loop ends with ELOOP from statSync below; the bound only stops a pathological chain.
  for (let hops = 0; hops < 40; hops++) {
    let st: Stats;
    try {
      st = lstatSync(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { path: at, kind: 'missing' };
      throw cannotWrite(path, err);
    }
    if (st.isSymbolicLink()) {
      at = resolve(dirname(at), readlinkSync(at));
      continue;
    }
    if (st.isDirectory()) throw new GilNvtxError(`cannot write ${path}: it is a directory.`, { hint: 'Give a file name.' });
    return { path: at, kind: st.isFile() ? 'regular' : 'special' };
  }
  try {
    statSync(path);
  } catch (err) {
    throw cannotWrite(path, err);
  }
  throw new GilNvtxError(`cannot write ${path}: too many symbolic links.`);
}

function cannotWrite(path: string, err: unknown): GilNvtxError {
  return new GilNvtxError(`cannot write ${path}: ${(err as Error).message}`, { hint: 'Check that the folder exists and is writable.', cause: err });
}

/** Writes all of `data` at the fd's position; writeSync may write less than asked (a pipe, a nearly full disk). */
export function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) {
    const n = writeSync(fd, data, off, data.length - off);
    if (n <= 0) throw Object.assign(new Error('no space left on device (short write)'), { code: 'ENOSPC' });
    off += n;
  }
}

/**
 * Calls `fill` with a buffered writer; on success the whole content is at `path`, on failure (a full
 * disk, an exception in `fill`) a regular target keeps its old content and no temp file stays behind.
 */
export function writeOutputFile(path: string, fill: (out: ChunkWriter) => void): void {
  const target = outputTarget(path);
  const inPlace = target.kind === 'special';
  const tmp = inPlace ? null : join(dirname(target.path), `.${basename(target.path)}.${process.pid}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp ?? target.path, 'w');
  } catch (err) {
    throw cannotWrite(path, err);
  }
  let pending: string[] = [];
  let size = 0;
  const flush = () => {
    if (pending.length > 0) writeAll(fd, Buffer.from(pending.join('')));
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
    // A regular file's blocks may be allocated only at writeback (NFS, some quotas): fsync reports
    // that ENOSPC now, before the rename puts a cut file in place.
    if (tmp) fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    if (tmp) renameSync(tmp, target.path);
  } catch (err) {
    if (fd >= 0) {
      try {
        closeSync(fd);
      } catch {
        /* the write error is the one to report */
      }
    }
    if (tmp) rmSync(tmp, { force: true });
    if (err instanceof GilNvtxError) throw err;
    throw new GilNvtxError(`writing ${path} failed: ${(err as Error).message}`, {
      hint: tmp ? `${path} was left as it was.` : undefined,
      cause: err,
    });
  }
}

/**
 * Renames a finished temp file (built beside `path`'s target, see `tempBeside`) over `path` with the
 * same rules: through symlinks, over a regular file or nothing, never over a device node or a FIFO.
 */
export function renameOutputFile(tmp: string, path: string): void {
  const target = outputTarget(path);
  if (target.kind === 'special') {
    throw new GilNvtxError(`cannot write ${path}: it is not a regular file (a device, FIFO or socket).`, { hint: 'Give a regular file or folder path.' });
  }
  renameSync(tmp, target.path);
}

/** A temp path in the folder of `path`'s target, so that renaming it there stays on one file system. */
export function tempBeside(path: string, tag = `tmp-${process.pid}`): string {
  const target = outputTarget(path);
  if (target.kind === 'special') {
    throw new GilNvtxError(`cannot write ${path}: it is not a regular file (a device, FIFO or socket).`, { hint: 'Give a regular file or folder path.' });
  }
  return `${target.path}.${tag}`;
}

/**
 * Writes a command's whole output (a report, its JSON) to stdout. Redirected to a regular file
 * (`> report.json`) Node's stdout ignores short writes, so a full disk left a cut file and exit 0:
 * here every byte is written or the file is cut back to where this output began (nothing half-written
 * stays), and the failure is one error. Terminals and pipes go through process.stdout as usual.
 */
export function writeStdout(text: string): void {
  let file = false;
  try {
    file = fstatSync(1).isFile();
  } catch {
    /* no stdout to look at: process.stdout decides */
  }
  try {
    if (!file) {
      process.stdout.write(text);
      return;
    }
    const start = fstatSync(1).size; // where this output begins (`>` truncated it; `>>` appends)
    try {
      writeAll(1, Buffer.from(text));
    } catch (err) {
      try {
        ftruncateSync(1, start);
      } catch {
        /* the write error is the one to report */
      }
      throw err;
    }
  } catch (err) {
    throw new GilNvtxError(`cannot write the output to stdout: ${(err as Error).message}`, { hint: file ? 'The output file was left as it was before this run wrote to it.' : undefined, cause: err });
  }
}
