// What test/instrument/fixtures/fetch-load.mjs must leave in a trace, whichever tool recorded it.
import { expect } from 'vitest';
import type { NormalizedEvent } from '../trace/helpers.js';

export interface FetchRun {
  normal: number;
  aborted: number;
  timedOut: number;
  refused: number;
  reset: number;
  received: number;
  outcomes: Record<string, (number | string)[]>;
}

export function checkFetchTrace(run: FetchRun, all: NormalizedEvent[]): void {
  const clients = Object.keys(run.outcomes);
  expect(clients).toEqual(['fetch', 'undici.fetch', 'undici.request']);
  const perClient = run.normal + run.aborted + run.timedOut + run.refused + run.reset;
  for (const c of clients) {
    const outcomes = run.outcomes[c]!;
    expect(outcomes, c).toHaveLength(perClient);
    // Only the answered requests have a status; every other way of ending is an error.
    expect(outcomes.filter((o) => typeof o === 'number'), c).toHaveLength(run.normal);
  }
  const events = all.filter((e) => e.domain === 'test:fetch');
  const ranges = events.filter((e) => e.eventType === 60);
  const client = ranges.filter((e) => /^GET 127\.0\.0\.1\//.test(e.name ?? ''));
  const server = ranges.filter((e) => /^GET \/(users|missing|boom|orders|hang|reset)/.test(e.name ?? ''));
  // One range per request made, by every client; one per request the server saw.
  expect(client).toHaveLength(clients.length * perClient);
  expect(server).toHaveLength(run.received);
  expect(ranges).toHaveLength(client.length + server.length);
  for (const r of ranges) expect(r.end, `${r.name} never ended`).not.toBeNull();
  expect(new Set(client.map((r) => r.name))).toEqual(
    new Set(['GET 127.0.0.1/users/:id', 'GET 127.0.0.1/missing', 'GET 127.0.0.1/boom', 'GET 127.0.0.1/orders/:id', 'GET 127.0.0.1/hang', 'GET 127.0.0.1/x', 'GET 127.0.0.1/reset']),
  );
  const marks = events.filter((e) => e.eventType === 34 && e.name === 'HTTP status');
  expect(marks).toHaveLength(client.length + server.length);
  const statuses = marks.map((m) => m.payload);
  // Per client, the answered requests: paths cycle through 200, 200, 404, 500, 200.
  const answered = (status: number) => Array.from({ length: run.normal }, (_, j) => [200, 200, 404, 500, 200][j % 5]).filter((s) => s === status).length;
  expect(statuses.filter((p) => p === 'i32:404').length).toBe(2 * clients.length * answered(404));
  expect(statuses.filter((p) => p === 'i32:500').length).toBe(2 * clients.length * answered(500));
  // Aborted, timed out, refused and reset requests carry no status (-1) on the client, and so do the held
  // and reset ones on the server.
  const failedPerClient = run.aborted + run.timedOut + run.refused + run.reset;
  const unansweredOnServer = server.filter((r) => /^GET \/(hang|reset)/.test(r.name ?? '')).length;
  expect(statuses.filter((p) => p === 'i32:-1')).toHaveLength(clients.length * failedPerClient + unansweredOnServer);
}
