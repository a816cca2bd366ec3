import { dirname } from 'node:path';
import { waitForLock } from '../lock.js';
import { makeDirs } from '../make-dirs.js';

/**
 * Runs `fn` while holding a lock shared by every process on this machine (vitest forks workers, and
 * two `build-python` runs with the same arguments must not build into one tree). A lock whose owner
 * died is free at once, and two waiters never both get it (lib/lock.ts says how).
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, onWait?: (owner: number | null) => void): Promise<T> {
  makeDirs(dirname(lockPath));
  const lock = await waitForLock(lockPath, onWait);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
