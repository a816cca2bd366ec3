// What instrumentEventLoop() writes and the report reads, without the instrumentation's imports (the
// report must not load the NVTX binding).

/** The domain of the event-loop ranges. */
export const EVENT_LOOP_DOMAIN = 'node:event-loop';
/** Name of the range of one block. Category: the watched thread's OS tid. Payload (int64): ns the loop had been silent when the range started. */
export const EVENT_LOOP_BLOCKED = 'event loop blocked';

/** Layout of the memory the watched thread and its watcher share: Int32 words, then one BigInt64. */
export const BEATS = 0;
export const STOP = 1;
export const STOPPED = 2;
/** Set by the watcher once it watches: instrumentEventLoop() returns only then, so no block after it is missed. */
export const READY = 3;
export const LAST_BEAT_BYTE_OFFSET = 16;
