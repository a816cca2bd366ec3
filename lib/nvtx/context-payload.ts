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
