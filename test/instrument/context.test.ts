// The ranges of one request form a tree: under the collector, every range started while a request is
// handled carries its parent's context id (lib/nvtx/context-payload.ts), across awaits and concurrent
// requests.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeContextPayload } from '../../lib/nvtx/context-payload.js';
import { traceCommand } from '../../lib/trace/run.js';
import { ensureCollector, readEvents, scratchDir } from '../trace/helpers.js';
import { lastJsonLine } from './fetch-check.js';

const fixture = fileURLToPath(new URL('./fixtures/context-tree.mjs', import.meta.url));

describe('context: ranges of one request are one tree', () => {
  it('records each range’s parent in its payload', async () => {
    const result = await traceCommand([process.execPath, fixture], { outDir: scratchDir('ctx'), collector: ensureCollector(), stdio: 'pipe' });
    expect(result.exitCode, result.output).toBe(0);
    const { requests } = lastJsonLine<{ requests: number }>(result.output);
    const ranges = readEvents(result.database)
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
    // The server side of /leaf is a request of its own; the client requests of the main module have no parent.
    expect(named('GET /leaf').map((r) => r.ctx?.parent)).toEqual(Array(requests).fill(0));
    expect(named('GET 127.0.0.1/outer/:id').map((r) => r.ctx?.parent)).toEqual(Array(requests).fill(0));
    // Outside every request, and with a payload of its own: not in the tree, payload untouched.
    expect(named('outside').map((r) => r.payload)).toEqual([null]);
    expect(named('own payload').map((r) => r.payload)).toEqual(Array(requests).fill('i64:7'));
  });
});
