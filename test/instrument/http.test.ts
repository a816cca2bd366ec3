import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { traceCommand } from '../../lib/trace/run.js';
import { ensureCollector, readEvents, scratchDir } from '../trace/helpers.js';

const fixture = fileURLToPath(new URL('./fixtures/http-load.mjs', import.meta.url));

describe('instrumentHttp under the embedded collector', () => {
  it('gives exactly one ended range per request, whatever way the request ended', async () => {
    const result = await traceCommand([process.execPath, fixture, '50'], {
      outDir: scratchDir('http'),
      collector: ensureCollector(),
      stdio: 'pipe',
    });
    expect(result.exitCode, result.output).toBe(0);
    const run = JSON.parse(result.output.trim().split('\n').pop()!) as { outcomes: (number | string)[] };
    // Aborted (destroyed) and refused requests both surface as request errors on the client.
    expect(run.outcomes.filter((o) => o === 'error')).toHaveLength(10);

    const events = readEvents(result.database).filter((e) => e.domain === 'test:http');
    const ranges = events.filter((e) => e.eventType === 60);
    const server = ranges.filter((e) => /^GET \/(users|missing|boom|orders|slow)/.test(e.name ?? ''));
    const client = ranges.filter((e) => /^GET 127\.0\.0\.1\//.test(e.name ?? ''));
    // 50 answered + 5 aborted by the client reach the server; the 5 refused ones never do.
    expect(server).toHaveLength(55);
    expect(client).toHaveLength(60);
    expect(ranges).toHaveLength(115);
    for (const r of ranges) expect(r.end, `${r.name} never ended`).not.toBeNull();
    // Ids in paths are folded, so the names stay few.
    expect(new Set(server.map((r) => r.name))).toEqual(
      new Set(['GET /users/:id', 'GET /missing', 'GET /boom', 'GET /orders/:id', 'GET /slow']),
    );

    const marks = events.filter((e) => e.eventType === 34 && e.name === 'HTTP status');
    expect(marks).toHaveLength(115);
    const statuses = marks.map((m) => m.payload);
    expect(statuses.filter((p) => p === 'i32:404').length).toBeGreaterThanOrEqual(2 * 10);
    expect(statuses.filter((p) => p === 'i32:500').length).toBeGreaterThanOrEqual(2 * 10);
    // Aborted (server and client side) and refused requests carry no status: payload -1.
    expect(statuses.filter((p) => p === 'i32:-1')).toHaveLength(5 + 5 + 5);
  });
});
