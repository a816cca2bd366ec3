import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Domain } from '../nvtx/index.js';
import { currentContext, enableContext, enterContext, nextContextId } from '../nvtx/context.js';
import { contextPayload } from '../nvtx/context-payload.js';
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
  /** Requests made with the global `fetch` and with the `undici` package (undici's diagnostics channels); default true. */
  fetch?: boolean;
  /** Range name of a fetch/undici request; default `METHOD host/path`, as for `node:http`. */
  fetchName?: (req: UndiciRequest) => string;
  /**
   * Ties ranges of one request into a tree (AsyncLocalStorage): an incoming request's range is the parent
   * of the outgoing requests and the `trace()`/`start()` ranges started while it is handled; default true.
   * Only with an NVTX tool attached (otherwise nothing is recorded, and nothing is tracked).
   */
  context?: boolean;
}

/** What undici's diagnostics channels publish about a request (the fields read here). */
export interface UndiciRequest {
  method: string;
  /** `http://host:port` */
  origin: string | URL;
  /** Path and query. */
  path: string;
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
  const fetchName = options.fetchName ?? ((req: UndiciRequest) => `${req.method} ${hostOf(req.origin)}${normalizePath(req.path)}`);
  const channels: Channel[] = [];
  const open = new WeakMap<object, Range>();
  const tracked = options.context !== false && enableContext();
  // A tree range's payload: its parent and its own id. An incoming request is a root, and the parent of
  // what its handlers start; an outgoing request's parent is the request being handled, if any.
  const start = (name: string, category: string, root: boolean): Range => {
    if (!tracked) return d.start(name, { category });
    const self = nextContextId();
    const range = d.start(name, { category, payload: { type: 'uint64', value: contextPayload(root ? 0 : currentContext(), self) } });
    if (root) enterContext(self);
    return range;
  };

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
      // The subscriber runs just before the server's 'request' handlers: they inherit the context.
      open.set(response, start(serverName(request), 'http server', true));
      // 'close' also fires after 'finish'; whichever comes first ends the range.
      response.once('close', () => finish(response, response.writableFinished ? response.statusCode : undefined, 'server'));
    });
    on('http.server.response.finish', ({ response }: { response: ServerResponse }) => finish(response, response.statusCode, 'server'));
  }
  if (options.client !== false) {
    on('http.client.request.start', ({ request }: { request: ClientRequest }) => {
      open.set(request, start(clientName(request), 'http client', false));
      request.once('close', () => finish(request, undefined, 'client'));
    });
    on('http.client.response.finish', ({ request, response }: { request: ClientRequest; response: IncomingMessage }) =>
      finish(request, response.statusCode, 'client'),
    );
    on('http.client.request.error', ({ request }: { request: ClientRequest }) => finish(request, undefined, 'client'));
  }
  if (options.fetch !== false) {
    // undici publishes these for the global fetch (Node's bundled copy) and for the npm package alike.
    // A request ends once: with its trailers (the body is complete), or with its first error (abort,
    // timeout, refused, reset); a later error of the same request finds nothing open.
    const statuses = new WeakMap<object, number>();
    on('undici:request:create', ({ request }: { request: UndiciRequest }) => {
      open.set(request, start(fetchName(request), 'http client', false));
    });
    on('undici:request:headers', ({ request, response }: { request: object; response: { statusCode: number } }) => {
      statuses.set(request, response.statusCode);
    });
    on('undici:request:trailers', ({ request }: { request: object }) => finish(request, statuses.get(request), 'client'));
    on('undici:request:error', ({ request }: { request: object }) => finish(request, undefined, 'client'));
  }
  return () => {
    for (const { name, listener } of channels.splice(0)) diagnosticsChannel.unsubscribe(name, listener);
  };
}

/** `http://host:port` → `host`, matching `ClientRequest.host` in the names of `node:http` requests. */
function hostOf(origin: string | URL): string {
  return String(origin).replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/:\d+$/, '').replace(/\/$/, '');
}
