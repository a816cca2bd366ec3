// The ranges of one request form a tree: under the collector and under nsys, every range started while a
// request is handled carries its parent's context id (lib/nvtx/context-payload.ts), across awaits and
// concurrent requests; the report draws the tree (Perfetto flows, HTML nesting).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeContextPayload, decodeCorrelation } from '../../lib/nvtx/context-payload.js';
import { analyzeTrace, formatHtml, loadTrace, writePerfettoEvents } from '../../lib/report/index.js';
import { traceCommand } from '../../lib/trace/run.js';
import { nsysGate } from '../helpers/tools.js';
import { ensureCollector, readEvents, scratchDir, type NormalizedEvent } from '../trace/helpers.js';
import { lastJsonLine, nodeUnderNsys } from './helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/context-tree.mjs', import.meta.url));

/** The tree the fixture builds, from the trace; returns how many requests it made. */
function checkTree(output: string, events: NormalizedEvent[]): number {
  const { requests, pid, correlations, outside } = lastJsonLine<{ requests: number; pid: number; correlations: number[]; outside: number }>(output);
  const ranges = events
    .filter((e) => e.eventType === 60)
    .map((e) => ({ ...e, ctx: decodeContextPayload(e.payload?.startsWith('u64:') ? Number(e.payload.slice(4)) : null) }));
  const named = (name: string) => ranges.filter((r) => r.name === name);
  const childrenOf = (parent: (typeof ranges)[number], name: string) =>
    named(name).filter((r) => r.ctx?.parent === parent.ctx!.self && r.tid === parent.tid);

  const outer = named('GET /outer/:id').filter((r) => r.domain === 'test:ctx');
  expect(outer).toHaveLength(requests);
  const selves = new Set<number>();
  for (const request of outer) {
    expect(request.ctx, 'an incoming request is a root').toMatchObject({ parent: 0 });
    selves.add(request.ctx!.self);
    const [query, ...more] = childrenOf(request, 'db query');
    expect(more).toEqual([]);
    expect(query!.domain).toBe('test:db');
    expect(childrenOf(query!, 'before await')).toHaveLength(1);
    expect(childrenOf(query!, 'after await')).toHaveLength(1);
    expect(childrenOf(request, 'GET 127.0.0.1/leaf')).toHaveLength(1);
  }
  expect(selves.size).toBe(requests);
  // currentCorrelationId() inside a query names this process and that query's range; outside any, 0.
  const querySelves = named('db query').map((q) => q.ctx!.self).sort((a, b) => a - b);
  expect(correlations.map((c) => decodeCorrelation(c)).map((c) => c?.pid)).toEqual(Array(requests).fill(pid));
  expect(correlations.map((c) => decodeCorrelation(c)!.context).sort((a, b) => a - b)).toEqual(querySelves);
  expect(outside).toBe(0);
  // The server side of /leaf is a request of its own; the client requests of the main module have no parent.
  expect(named('GET /leaf').map((r) => r.ctx?.parent)).toEqual(Array(requests).fill(0));
  expect(named('GET 127.0.0.1/outer/:id').map((r) => r.ctx?.parent)).toEqual(Array(requests).fill(0));
  // Outside every request, and with a payload of its own: not in the tree, payload untouched.
  expect(named('outside').map((r) => r.payload)).toEqual([null]);
  expect(named('own payload').map((r) => r.payload)).toEqual(Array(requests).fill('i64:7'));
  return requests;
}

describe('context: ranges of one request are one tree', () => {
  it.skipIf(nsysGate.skip)('under nsys profile --trace=nvtx: the same tree', async () => {
    const run = await nodeUnderNsys(fixture, [], 'ctx');
    checkTree(run.output, readEvents(run.sqlite));
  }, 400_000);

  it('under the collector: records each range’s parent in its payload, and the report draws the tree', async () => {
    const result = await traceCommand([process.execPath, fixture], { outDir: scratchDir('ctx'), collector: ensureCollector(), stdio: 'pipe' });
    expect(result.exitCode, result.output).toBe(0);
    const requests = checkTree(result.output, readEvents(result.database));

    const trace = await loadTrace(result.database, { requireGil: false });
    try {
      // Perfetto: one flow arrow per parent → child, from an instant on the parent's async track.
      let json = '';
      writePerfettoEvents(trace, { write: (chunk) => (json += chunk) });
      const events = (JSON.parse(json) as { traceEvents: Record<string, any>[] }).traceEvents;
      const begins = events.filter((e) => e.ph === 'b');
      const flowOut = new Map(events.filter((e) => e.ph === 'n' && e.flow_out).map((e) => [e.bind_id as string, e]));
      const children = begins.filter((e) => e.args.parent !== undefined);
      // Per request: the query, its two ranges, the fetch.
      expect(children).toHaveLength(4 * requests);
      for (const child of children) {
        expect(child.flow_in).toBe(true);
        const from = flowOut.get(child.bind_id)!;
        const parent = begins.find((b) => b.id === from.id)!;
        expect([from.name, from.cat, parent.args.context]).toEqual([parent.name, parent.cat, child.args.parent]);
      }
      expect(flowOut.size).toBe(children.length);
      // HTML: depth in the tree is drawn as nesting.
      const html = formatHtml(trace, analyzeTrace(trace));
      const data = JSON.parse(/<script type="application\/json" id="gil-data">(.*?)<\/script>/s.exec(html)![1]!) as { others: number[][]; otherNames: string[] };
      const depths = (name: string) => [...new Set(data.others.filter((o) => data.otherNames[o[3]!]!.endsWith(`:${name}`)).map((o) => o[4]))];
      expect(depths('GET /outer/:id')).toEqual([0]);
      expect(depths('db query')).toEqual([1]);
      expect(depths('after await')).toEqual([2]);
    } finally {
      trace.close();
    }
  });
});
