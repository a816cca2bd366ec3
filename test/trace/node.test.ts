import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nsysProfile } from '../../lib/nsys/run.js';
import { mergeTrace } from '../../lib/trace/merge.js';
import { nsysGate } from '../helpers/tools.js';
import { DIST_INDEX, ensureBuilt } from '../nvtx/helpers.js';
import { ensureCollector, normalizeForComparison, readEvents, runWithCollector, scratchDir } from './helpers.js';

// Node with the gil-nvtx addon, on the main thread and in a worker, under the collector - and the
// same script under nsys gives the same rows.
const SCRIPT = `
import { Worker } from 'node:worker_threads';
const nvtx = await import(${JSON.stringify(DIST_INDEX)});
const d = nvtx.domain('svc');
nvtx.nameThread('event-loop');
d.range('parse', () => d.range('tokenize', () => {}));
await d.trace('request', () => new Promise((r) => setTimeout(r, 5)));
d.mark('checkpoint');
const w = new Worker(\`
  const nvtx = await import(\${JSON.stringify(${JSON.stringify(DIST_INDEX)})});
  nvtx.domain('svc').range('in-worker', () => {});
\`, { eval: true });
await new Promise((r) => w.on('exit', r));
`;

let script: string;
beforeAll(() => {
  ensureBuilt();
  ensureCollector();
  script = join(scratchDir('node-script'), 'script.mjs');
  writeFileSync(script, SCRIPT);
}, 300_000);

describe('collector with the Node addon', () => {
  it('records domains, nested ranges, async ranges, marks and worker threads', () => {
    const dir = scratchDir('node');
    const run = runWithCollector([process.execPath, script], join(dir, 'raw'));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    mergeTrace(join(dir, 'raw'), join(dir, 'trace.sqlite'));
    const events = readEvents(join(dir, 'trace.sqlite'));
    const byName = (n: string) => events.filter((e) => e.name === n && e.domain === 'svc');
    const [parse] = byName('parse');
    const [tokenize] = byName('tokenize');
    expect(parse).toMatchObject({ eventType: 59, tid: run.pid });
    expect(tokenize!.start >= parse!.start && tokenize!.end! <= parse!.end!).toBe(true);
    expect(byName('request')).toMatchObject([{ eventType: 60 }]);
    expect(byName('checkpoint')).toMatchObject([{ eventType: 34 }]);
    const [inWorker] = byName('in-worker');
    expect(inWorker!.pid).toBe(run.pid);
    expect(inWorker!.tid).not.toBe(run.pid);
    expect(events.filter((e) => e.eventType === 39).map((e) => e.name)).toContain('event-loop');
  });

  it.skipIf(nsysGate.skip)('gives the same rows as nsys 2022.4', { timeout: 300_000 }, async () => {
    const dir = scratchDir('node-vs-nsys');
    const nsys = await nsysProfile([process.execPath, script], { output: join(dir, 'nsys'), trace: ['nvtx'], timeoutSec: 120 });
    const nsysEvents = readEvents(nsys.sqlite!);
    const run = runWithCollector([process.execPath, script], join(dir, 'raw'));
    mergeTrace(join(dir, 'raw'), join(dir, 'trace.sqlite'));
    const ours = readEvents(join(dir, 'trace.sqlite'));
    const pidOf = (events: typeof ours) => events.find((e) => e.eventType === 75 && e.name === 'svc')!.pid;
    expect(normalizeForComparison(ours, pidOf(ours))).toEqual(normalizeForComparison(nsysEvents, pidOf(nsysEvents)));
    expect(run.status).toBe(0);
  });
});
