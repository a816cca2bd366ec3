// Optional auto-instrumentation of node:http servers through diagnostics_channel: one start/end range per
// request, from 'http.server.request.start' until the response closes (finished or aborted).
import diagnostics_channel from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Domain } from './domain.js';
import type { EventAttributes } from './attributes.js';

export interface HttpInstrumentationOptions {
  /** Attributes for every request range; default `{ category: 'http' }`. */
  attributes?: EventAttributes;
  /** The range name; default `"<METHOD> <path without query>"`. */
  name?: (request: IncomingMessage) => string;
}

const REQUEST_START = 'http.server.request.start';

function defaultName(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return `${request.method ?? 'HTTP'} ${query === -1 ? url : url.slice(0, query)}`;
}

/**
 * Records every request of every `node:http` server in this thread as a start/end range in `domain`.
 * Returns a function that stops it. Paths become range names: past the per-domain intern limit, new ones
 * are sent as plain text, so high-cardinality paths cost more under a tool; pass `name` to group them.
 */
export function instrumentHttpServers(domain: Domain, options: HttpInstrumentationOptions = {}): () => void {
  const attributes = options.attributes ?? { category: 'http' };
  const name = options.name ?? defaultName;
  const onStart = (message: unknown): void => {
    const { request, response } = message as { request: IncomingMessage; response: ServerResponse };
    const range = domain.start(name(request), attributes);
    response.once('close', () => range.end());
  };
  diagnostics_channel.subscribe(REQUEST_START, onStart);
  return () => {
    diagnostics_channel.unsubscribe(REQUEST_START, onStart);
  };
}
