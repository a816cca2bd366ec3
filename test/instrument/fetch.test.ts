// instrumentHttp() and the global fetch / undici: one ended range per request, under the embedded
// collector and under real nsys (skips locally without nsys; fails in CI, GIL_NVTX_REQUIRE_NSYS=1).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { traceCommand } from '../../lib/trace/run.js';
import { nsysGate } from '../helpers/tools.js';
import { ensureCollector, readEvents, scratchDir } from '../trace/helpers.js';
import { checkFetchTrace, type FetchRun } from './fetch-check.js';
import { lastJsonLine, nodeUnderNsys } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/fetch-load.mjs', import.meta.url));

describe('instrumentHttp and fetch/undici', () => {
  it('under the embedded collector: exactly one ended range per request, whatever way it ended', async () => {
    const result = await traceCommand([process.execPath, fixture, '30'], { outDir: scratchDir('fetch'), collector: ensureCollector(), stdio: 'pipe' });
    expect(result.exitCode, result.output).toBe(0);
    checkFetchTrace(lastJsonLine<FetchRun>(result.output), readEvents(result.database));
  });

  it.skipIf(nsysGate.skip)('under nsys profile --trace=nvtx: the same', async () => {
    const run = await nodeUnderNsys(fixture, ['30'], 'fetch');
    checkFetchTrace(lastJsonLine<FetchRun>(run.output), readEvents(run.sqlite));
  }, 400_000);
});
