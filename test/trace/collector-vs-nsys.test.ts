import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nsysProfile } from '../../lib/nsys/run.js';
import { mergeTrace } from '../../lib/trace/merge.js';
import { nsysGate } from '../helpers/tools.js';
import { ensureCollector, ensureEventsProgram, normalizeForComparison as normalize, readEvents, runWithCollector, scratchDir } from './helpers.js';

// The promise of the collector: for the same program, the rows the report reads are the rows nsys
// 2022.4 exports - same ranges, nesting, threads, payloads, categories, colors and domains.

let program: string;
beforeAll(() => {
  ensureCollector();
  program = ensureEventsProgram();
}, 300_000);

describe.skipIf(nsysGate.skip)('collector vs nsys 2022.4 on the same program', () => {
  for (const mode of ['basic', 'fork']) {
    it(`${mode}: the same NVTX rows`, { timeout: 300_000 }, async () => {
      const dir = scratchDir(`vs-nsys-${mode}`);
      const nsys = await nsysProfile([program, mode], {
        output: join(dir, 'nsys'),
        trace: ['nvtx'],
        forkBeforeExec: mode === 'fork',
        timeoutSec: 120,
      });
      const nsysEvents = readEvents(nsys.sqlite!);
      const nsysPid = nsysEvents.find((e) => e.eventType === 75)!.pid;

      const run = runWithCollector([program, mode], join(dir, 'raw'));
      expect(run.status).toBe(0);
      mergeTrace(join(dir, 'raw'), join(dir, 'trace.sqlite'));
      const ours = readEvents(join(dir, 'trace.sqlite'));

      const expected = normalize(nsysEvents, nsysPid);
      const got = normalize(ours, run.pid!);
      expect(expected.length).toBeGreaterThan(5);
      if (mode === 'basic') {
        expect(got).toEqual(expected);
      } else {
        // A fork child: nsys drops the child's ranges in domains and with strings the parent defined
        // (it does not know them in the child); the collector restates those definitions in the
        // child's file and keeps the ranges. Everything nsys has, the collector has too.
        for (const row of expected) expect(got).toContain(row);
        const extra = got.filter((r) => !expected.includes(r));
        expect(extra).toEqual([
          '[33,"gilcat","CPython GIL","child:main",null,7,null,null,null]',
          '[33,"io",null,"child:main",null,3,null,null,null]',
          '[59,"Holding GIL","CPython GIL","child:main",null,null,null,null,""]',
          '[75,"CPython GIL","CPython GIL","child:main",null,null,null,null,null]',
          '[75,"second","second","child:main",null,null,null,null,null]',
        ]);
      }
    });
  }
});
