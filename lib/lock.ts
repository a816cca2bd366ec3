// Machine-wide locks (one run per trace folder, one build per CPython build tree) that cannot go stale.
//
// The lock is a listening Unix socket in Linux's abstract namespace, named after the locked path: only
// one process can bind a name, and the kernel frees it the moment its owner dies, however it dies
// (SIGKILL included). So there is no stale lock to take over, and two waiters can never both take
// over one: a lock file with a pid needs "is the owner dead? then remove and retry", which two
// waiters can do at once, each removing the other's fresh lock (lock libraries based on mkdir and
// mtimes have the same window). A waiter connects to the owner's socket and is told, by the
// connection closing, when the owner is gone: no polling.
//
// The file at the locked path only names the owner's pid for messages; it is not the lock.
// Limit: processes in different network namespaces (containers sharing a folder) do not see each
// other's locks.
import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { basename, dirname, join, resolve } from 'node:path';

export interface HeldLock {
  release(): void;
}

/** The socket's name: one per lock file, however the path to its folder is spelled (symlinks, `..`). */
function socketName(lockPath: string): string {
  let canonical: string;
  try {
    canonical = join(realpathSync(dirname(resolve(lockPath))), basename(lockPath));
  } catch {
    canonical = resolve(lockPath);
  }
  return `\0gil-nvtx-lock-${createHash('sha256').update(canonical).digest('hex').slice(0, 40)}`;
}

/** The pid the lock file names, if it names one. */
export function lockOwner(lockPath: string): number | null {
  try {
    const pid = Number(readFileSync(lockPath, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Takes the lock, or returns null when another process holds it. */
export async function tryLock(lockPath: string): Promise<HeldLock | null> {
  const server = createServer();
  const waiters = new Set<Socket>();
  server.on('connection', (s) => {
    waiters.add(s);
    s.on('close', () => waiters.delete(s));
    s.on('error', () => s.destroy());
    s.unref();
  });
  const bound = await new Promise<boolean>((res, rej) => {
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? res(false) : rej(err)));
    server.listen({ path: socketName(lockPath) }, () => res(true));
  });
  if (!bound) return null;
  server.unref(); // a held lock alone must not keep the process alive
  try {
    writeFileSync(lockPath, `${process.pid}\n`);
  } catch {
    /* the socket is the lock; without the file, messages just cannot name the owner */
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      // The file first: once the socket closes, a new owner may write its own.
      if (lockOwner(lockPath) === process.pid) rmSync(lockPath, { force: true });
      server.close();
      for (const s of waiters) s.destroy();
    },
  };
}

/** Resolves when the current owner of the lock releases it or dies (or at once if nobody holds it). */
function ownerGone(lockPath: string): Promise<void> {
  return new Promise((res) => {
    const c = createConnection({ path: socketName(lockPath) });
    c.on('error', () => res());
    c.on('close', () => res());
  });
}

/** Takes the lock, waiting for its owner as long as it takes; `onWait` hears once whom we wait for. */
export async function waitForLock(lockPath: string, onWait?: (owner: number | null) => void): Promise<HeldLock> {
  let told = false;
  for (;;) {
    const lock = await tryLock(lockPath);
    if (lock) return lock;
    if (!told) {
      onWait?.(lockOwner(lockPath));
      told = true;
    }
    await ownerGone(lockPath);
  }
}
