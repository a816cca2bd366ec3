import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A tmpfs of `size` bytes (the tests run as root, as CI does): the real ENOSPC of a full disk,
 * where writes start failing after `size` bytes. `dispose()` unmounts and removes it.
 */
export function smallFs(size = 64 * 1024): { dir: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-small-fs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return {
    dir,
    dispose: () => {
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
