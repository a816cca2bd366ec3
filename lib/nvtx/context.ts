// Which request a range belongs to. While context tracking is on (instrumentHttp turns it on, and only
// when an NVTX tool is attached: without one nothing is recorded, so nothing is tracked either), an
// AsyncLocalStorage holds the context id of the innermost open tree range of the current async flow, and
// start/end ranges started meanwhile carry their parent's id in the payload (context-payload.ts).
// The store is a plain number, so entering a context allocates nothing beyond what `run` itself costs.
import { AsyncLocalStorage } from 'node:async_hooks';
import { status } from './binding.js';
import { CONTEXT_ID_LIMIT, correlationPayload } from './context-payload.js';

let storage: AsyncLocalStorage<number> | null = null;
let lastId = 0;

/** Turns context tracking on in this thread (idempotent); false when calls are no-ops anyway. */
export function enableContext(): boolean {
  if (storage === null) {
    if (!status().native) return false;
    storage = new AsyncLocalStorage<number>();
  }
  return true;
}

/** True while context tracking is on in this thread. */
export function contextEnabled(): boolean {
  return storage !== null;
}

/** The context id of the innermost open tree range here, 0 outside any (or when tracking is off). */
export function currentContext(): number {
  return storage === null ? 0 : storage.getStore() ?? 0;
}

/**
 * The id to send with work handed to another process (a job for a Python worker), for the range that
 * work runs in to carry as its payload: the report then ties that range to the request it was sent
 * for, and says which process and thread served the request. It names the innermost open tree range
 * here (a `trace()` range, or the request itself), so call it inside the range that sends the work.
 * 0 outside a tracked request, or when context tracking is off (no NVTX tool attached).
 */
export function currentCorrelationId(): number {
  return correlationPayload(process.pid, currentContext());
}

export function nextContextId(): number {
  lastId = lastId + 1 === CONTEXT_ID_LIMIT ? 1 : lastId + 1;
  return lastId;
}

/** Runs `fn` with `self` as the current context (the parent of ranges started inside). */
export function runInContext<T>(self: number, fn: () => T): T {
  return storage === null ? fn() : storage.run(self, fn);
}

/**
 * Makes `self` the current context for the rest of this synchronous execution and what it schedules: for
 * diagnostics_channel subscribers, which run just before the code they describe and cannot wrap it.
 */
export function enterContext(self: number): void {
  storage?.enterWith(self);
}
