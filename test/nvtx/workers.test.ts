// The addon in worker_threads, each scenario in its own child process so a crash shows up as a signal or a
// non-zero exit instead of taking vitest down (node-addon.md §7).
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ensureBuilt, FIXTURES, lastJson, runNode, type ChildResult } from './helpers.js';

const SCRIPT = join(FIXTURES, 'workers.mjs');
const NATIVE = { GIL_NVTX_FORCE_NATIVE: '1' };

function expectCleanExit(result: ChildResult): void {
  expect(result.signal, result.stderr).toBeNull();
  expect(result.code, result.stderr).toBe(0);
}

beforeAll(() => ensureBuilt());

describe('worker_threads', () => {
  it('loads in the main thread and a worker: same domain, own OS thread, ranges end across threads', async () => {
    const result = await runNode(SCRIPT, ['main-and-worker'], NATIVE);
    expectCleanExit(result);
    const out = lastJson<Record<string, unknown>>(result);
    expect(out).toMatchObject({ workerExit: 0, sameDomain: true, workerMode: 'native', differentTid: true, openAfter: 0 });
    expect(out.envSerials).toEqual([1, 2]);
  });

  it('loads only in workers, 200 of them in turn, without crashing or losing the registry', async () => {
    const result = await runNode(SCRIPT, ['workers-only', '200'], NATIVE);
    expectCleanExit(result);
    expect(lastJson(result)).toMatchObject({ count: 200, failures: 0, distinctDomainIndexes: 1, serialsIncrease: true });
  });

  it('survives worker.terminate() with open ranges and calls in flight, and closes those ranges', async () => {
    const result = await runNode(SCRIPT, ['terminate'], NATIVE);
    expectCleanExit(result);
    const out = lastJson<{ exitCodes: number[]; openBefore: number[]; openAfter: number }>(result);
    // A terminated worker exits with code 1.
    expect(out.exitCodes).toEqual([1, 1, 1, 1, 1]);
    // Each worker had its 50 ranges open (51 while its loop is between start and end) when terminated.
    expect(out.openBefore).toHaveLength(5);
    for (const open of out.openBefore) expect(open === 50 || open === 51, `${open} open`).toBe(true);
    expect(out.openAfter).toBe(0);
  });

  it('survives process.exit() while ranges are open and a worker is busy', async () => {
    const result = await runNode(SCRIPT, ['exit-mid-use'], NATIVE);
    expectCleanExit(result);
    expect(lastJson(result)).toMatchObject({ exiting: true });
  });
});
