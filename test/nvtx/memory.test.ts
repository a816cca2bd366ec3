// One million ranges of each kind leave no memory growth: the start/end slot table stays at its reuse depth
// and RSS stays flat after warm-up (generous margin: this is a leak detector, not a benchmark).
import { beforeAll, expect, it } from 'vitest';
import { join } from 'node:path';
import { ensureBuilt, FIXTURES, lastJson, runNode } from './helpers.js';

interface Snapshot {
  rss: number;
  stats: { openRanges: number; rangeSlots: number; strings: number };
}

beforeAll(() => ensureBuilt());

it('one million start/end and push/pop ranges: bounded slot table, flat RSS', async () => {
  const result = await runNode('--expose-gc', [join(FIXTURES, 'churn.mjs'), '1000000'], { GIL_NVTX_FORCE_NATIVE: '1' });
  expect(result.signal, result.stderr).toBeNull();
  expect(result.code, result.stderr).toBe(0);
  const out = lastJson<{ mode: string; warm: Snapshot; end: Snapshot }>(result);
  expect(out.mode).toBe('native');
  expect(out.end.stats.openRanges).toBe(0);
  // Slots are reused once 4096 exist (ranges.h kReuseDepth); a leak would show ~1e6.
  expect(out.end.stats.rangeSlots).toBeLessThanOrEqual(4097);
  expect(out.end.stats.strings).toBe(out.warm.stats.strings);
  // 900k more iterations after warm-up: a per-range leak of even 16 bytes would add > 14 MB.
  expect(out.end.rss - out.warm.rss).toBeLessThan(12 * 1024 * 1024);
});
