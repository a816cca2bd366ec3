// instrumentHttp() and the global fetch / undici: one ended range per request, under the embedded
// collector and under real nsys (skips locally without nsys; fails in CI, GIL_NVTX_REQUIRE_NSYS=1).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { nsysProfile } from '../../lib/nsys/run.js';
import { traceCommand } from '../../lib/trace/run.js';
import { nsysGate } from '../helpers/tools.js';
import { ensureCollector, readEvents, scratchDir } from '../trace/helpers.js';
import { checkFetchTrace, lastJsonLine, type FetchRun } from './fetch-check.js';

const fixture = fileURLToPath(new URL('./fixtures/fetch-load.mjs', import.meta.url));

describe('instrumentHttp and fetch/undici', () => {
  it('under the embedded collector: exactly one ended range per request, whatever way it ended', async () => {
    const result = await traceCommand([process.execPath, fixture, '30'], { outDir: scratchDir('fetch'), collector: ensureCollector(), stdio: 'pipe' });
    expect(result.exitCode, result.output).toBe(0);
    checkFetchTrace(lastJsonLine<FetchRun>(result.output), readEvents(result.database));
  });

  it.skipIf(nsysGate.skip)('under nsys profile --trace=nvtx: the same', async () => {
    const env = { ...process.env };
    delete env.GIL_NVTX_FORCE_NATIVE;
    const profile = () => nsysProfile([process.execPath, fixture, '30'], { output: join(scratchDir('fetch-nsys'), 'fetch'), env, timeoutSec: 180 });
    // nsys 2022.4 occasionally finishes without writing a report: one more try.
    const run = await profile().catch(() => profile());
    checkFetchTrace(lastJsonLine<FetchRun>(run.output), readEvents(run.sqlite!));
  }, 400_000);
});
