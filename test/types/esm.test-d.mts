// An ESM consumer of gil-nvtx. Compiled by test/types/types.test.ts; every @ts-expect-error must stay an error.
import * as nvtx from 'gil-nvtx';
import { domain, defaultDomain, type Domain, type EventAttributes, type Range, type StringHandle, type NvtxStatus } from 'gil-nvtx';

const d: Domain = domain('svc');
const h: StringHandle = d.registerString('db.query');
const n: number = d.range('parse', () => 42);
const s: string = d.range(h, { color: 0xff00aa00, category: 'io', payload: 1n }, () => 'x');
const p: Promise<number> = d.trace('request', async () => 7);
const p2: Promise<string> = d.trace('request', { payload: { type: 'float', value: 1.5 } }, () => 'sync is fine');
{
  using r: Range = d.start('job', { category: 3 });
  const id: number = r.id;
  void id;
}
d.start(h).end();
d.mark('checkpoint', { payload: 42, color: 0xff00aa00, category: 'io' });
d.push(h);
d.pop();
d.nameCategory(1, 'io');
const cat: number = d.category('io');
const res = d.resource(0x1234, 'mutex', { kind: 'pointer' });
const destroyed: boolean = res.destroy();
const tid: number = nvtx.nameThread('event-loop');
const st: NvtxStatus = nvtx.status();
const attached: boolean = nvtx.isToolAttached();
const attrs: EventAttributes = { payload: { type: 'uint64', value: 2n ** 64n - 1n } };
nvtx.range('one-liner', () => undefined);
nvtx.mark('one-liner', attrs);
await nvtx.trace('one-liner', async () => undefined);
nvtx.endRange(nvtx.start('x').id);
defaultDomain.mark(nvtx.registerString('default'));
const stopHttp: () => void = nvtx.instrumentHttp({ domain: d, client: false, serverName: (req) => req.method ?? 'HTTP' });
const stopFetch: () => void = nvtx.instrumentHttp({ fetch: true, context: false, fetchName: (req) => `${req.method} ${String(req.origin)}${req.path}` });
const stopLoop: () => void = nvtx.instrumentEventLoop({ thresholdMs: 50 });
const loopDomain: 'node:event-loop' = nvtx.EVENT_LOOP_DOMAIN;
const child: import('node:child_process').ChildProcess = nvtx.spawnTraced('true', [], { name: 'noop', stdio: 'ignore' });
void [n, s, p, p2, cat, destroyed, tid, st, attached, stopHttp, stopFetch, stopLoop, loopDomain, child];

// @ts-expect-error a handle is a branded number: a plain number is not a StringHandle
const notHandle: StringHandle = 5;
// @ts-expect-error names are strings or handles
d.mark({ text: 'x' });
// @ts-expect-error colors are numbers (ARGB)
d.mark('x', { color: '#ff0000' });
// @ts-expect-error payload types are a closed set
d.mark('x', { payload: { type: 'int128', value: 1 } });
// @ts-expect-error the threshold is a number of milliseconds
nvtx.instrumentEventLoop({ thresholdMs: '50' });
// @ts-expect-error range() needs a function
d.range('x');
// @ts-expect-error the result type follows fn
const wrong: string = d.range('x', () => 1);
// @ts-expect-error trace returns a promise
const notPromise: number = d.trace('x', async () => 1);
// @ts-expect-error resource kinds are 'pointer' or 'handle'
d.resource(1, 'x', { kind: 'mutex' });
void [notHandle, wrong, notPromise];
