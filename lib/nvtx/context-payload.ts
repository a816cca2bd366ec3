// The payload that ties start/end ranges of one request into a tree, shared by the Node API that writes it
// and the report that reads it. One uint64 holds a tag bit, the parent's context id and the range's own,
// all below 2^53 so JavaScript passes it as a plain number (no BigInt per range).
//
//   bit 52: tag (1)   bits 26-51: parent id (0 = a root)   bits 0-25: own id
//
// Ids count up per thread (Node environment) from 1 and wrap after 2^26 - 1; a child always starts after
// its parent on the same thread, so a reader resolves a parent id to the latest range of that thread with
// that own id that started at or before the child.

export const CONTEXT_ID_BITS = 26;
export const CONTEXT_ID_LIMIT = 2 ** CONTEXT_ID_BITS;
export const CONTEXT_TAG = 2 ** 52;

export function contextPayload(parent: number, self: number): number {
  return CONTEXT_TAG + parent * CONTEXT_ID_LIMIT + self;
}

/** `{ self, parent }` of a context payload, or null for any other payload (a user's own, or none). */
export function decodeContextPayload(payload: number | bigint | null | undefined): { self: number; parent: number } | null {
  if (payload === null || payload === undefined) return null;
  const value = Number(payload);
  if (!Number.isSafeInteger(value) || value < CONTEXT_TAG || value >= 2 * CONTEXT_TAG) return null;
  const rest = value - CONTEXT_TAG;
  const self = rest % CONTEXT_ID_LIMIT;
  if (self === 0) return null;
  return { self, parent: Math.floor(rest / CONTEXT_ID_LIMIT) };
}

// A correlation id: what a request hands to work done in another process (a job sent to a Python
// worker), for that work's own range to carry as its payload. It names the Node process and the context
// id of the range that sent the work, so a reader finds that range (and, through its parents, the
// request) among the ranges of that process: the one with that id whose span contains the work's start.
// Its values lie below the tree payloads' tag, so the two never mistake one another.
//
//   bit 51: tag (1)   bits 26-47: pid   bits 0-25: context id

export const CORRELATION_TAG = 2 ** 51;
export const CORRELATION_PID_LIMIT = 2 ** 22;

/** The correlation id for context `context` of process `pid`; 0 for no context. */
export function correlationPayload(pid: number, context: number): number {
  if (context <= 0 || context >= CONTEXT_ID_LIMIT || pid <= 0 || pid >= CORRELATION_PID_LIMIT) return 0;
  return CORRELATION_TAG + pid * CONTEXT_ID_LIMIT + context;
}

/** `{ pid, context }` of a correlation id, or null for any other payload. */
export function decodeCorrelation(payload: number | bigint | null | undefined): { pid: number; context: number } | null {
  if (payload === null || payload === undefined) return null;
  const value = Number(payload);
  if (!Number.isSafeInteger(value) || value < CORRELATION_TAG || value >= CORRELATION_TAG + CORRELATION_PID_LIMIT * CONTEXT_ID_LIMIT) return null;
  const rest = value - CORRELATION_TAG;
  const context = rest % CONTEXT_ID_LIMIT;
  const pid = Math.floor(rest / CONTEXT_ID_LIMIT);
  return context === 0 || pid === 0 ? null : { pid, context };
}
