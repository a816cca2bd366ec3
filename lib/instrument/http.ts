import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Domain } from '../nvtx/index.js';
import type { Range } from '../nvtx/range.js';
import { domainOption } from './domain-option.js';
import { normalizePath, statusClass } from './route.js';

export interface HttpInstrumentationOptions {
  /** Domain for the ranges (a Domain or its name); default `node:http`. */
  domain?: Domain | string;
  /** Incoming requests of every `http`/`https` server in this thread; default true. */
  server?: boolean;
  /** Outgoing requests made with `http`/`https`; default true. */
  client?: boolean;
  /** Range name of an incoming request; default `METHOD /path` with ids folded to `:id`. */
  serverName?: (req: IncomingMessage) => string;
  /** Range name of an outgoing request; default `METHOD host/path`. */
  clientName?: (req: ClientRequest) => string;
}

/** Messages registered once per domain: the status mark is one name whose payload is the status code. */
const STATUS_MARK = 'HTTP status';

interface Channel {
  name: string;
  listener: (message: unknown, name: string | symbol) => void;
}

/**
 * One start/end range per incoming and per outgoing HTTP request, through `diagnostics_channel`, so no
 * code of the server changes. A range ends when the response finishes, or when the connection closes
 * first (a client that gave up), never twice and never not at all. NVTX start/end ranges take their
 * attributes at the start, when the status is not known yet, so the status follows as a mark
 * `HTTP status` on the same domain with the status code as payload and its class (`2xx`, …) as category.
 * Returns a function that unsubscribes.
 */
export function instrumentHttp(options: HttpInstrumentationOptions = {}): () => void {
  const d = domainOption(options.domain, 'node:http');
  const statusMark = d.registerString(STATUS_MARK);
  const serverName = options.serverName ?? ((req: IncomingMessage) => `${req.method ?? 'GET'} ${normalizePath(req.url)}`);
  const clientName = options.clientName ?? ((req: ClientRequest) => `${req.method} ${req.host ?? ''}${normalizePath(req.path)}`);
  const channels: Channel[] = [];
  const open = new WeakMap<object, Range>();

  const finish = (key: object, status: number | undefined, kind: 'server' | 'client') => {
    const range = open.get(key);
    if (!range) return;
    open.delete(key);
    range.end();
    d.mark(statusMark, { payload: { type: 'int32', value: status ?? -1 }, category: `${kind} ${statusClass(status)}` });
  };
  const on = (name: string, listener: (message: any) => void) => {
    diagnosticsChannel.subscribe(name, listener);
    channels.push({ name, listener });
  };

  if (options.server !== false) {
    on('http.server.request.start', ({ request, response }: { request: IncomingMessage; response: ServerResponse }) => {
      open.set(response, d.start(serverName(request), { category: 'http server' }));
      // 'close' also fires after 'finish'; whichever comes first ends the range.
      response.once('close', () => finish(response, response.writableFinished ? response.statusCode : undefined, 'server'));
    });
    on('http.server.response.finish', ({ response }: { response: ServerResponse }) => finish(response, response.statusCode, 'server'));
  }
  if (options.client !== false) {
    on('http.client.request.start', ({ request }: { request: ClientRequest }) => {
      open.set(request, d.start(clientName(request), { category: 'http client' }));
      request.once('close', () => finish(request, undefined, 'client'));
    });
    on('http.client.response.finish', ({ request, response }: { request: ClientRequest; response: IncomingMessage }) =>
      finish(request, response.statusCode, 'client'),
    );
    on('http.client.request.error', ({ request }: { request: ClientRequest }) => finish(request, undefined, 'client'));
  }
  return () => {
    for (const { name, listener } of channels.splice(0)) diagnosticsChannel.unsubscribe(name, listener);
  };
}
