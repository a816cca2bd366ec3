import { Worker } from 'node:worker_threads';
import { binding, status } from '../nvtx/binding.js';
import { argError } from '../nvtx/validate.js';
import { BEATS, LAST_BEAT_BYTE_OFFSET, READY, STOP, STOPPED } from './event-loop-contract.js';

export { EVENT_LOOP_BLOCKED, EVENT_LOOP_DOMAIN } from './event-loop-contract.js';

const READY_TIMEOUT_MS = 10_000;

export interface EventLoopInstrumentationOptions {
  /** Blocks at least this long get a range (default 50 ms); the resolution is a quarter of it. */
  thresholdMs?: number;
}

/**
 * One start/end range in the `node:event-loop` domain for each stretch of at least `thresholdMs` during
 * which this thread's event loop ran no callback (a synchronous spin, a long GC, a huge JSON.parse).
 *
 * A blocked thread cannot say so itself, so a worker watches it: this thread's loop bumps a shared counter
 * from a timer every `thresholdMs / 4`; the watcher sleeps in `Atomics.wait` on that counter (no polling)
 * and, when it has not moved for `thresholdMs`, starts a range, which it ends as soon as the loop beats
 * again. The range's int64 payload is how long the loop had already been silent when the range started
 * (ns since its last beat), so the block itself is [start - payload, end]; its category is the OS thread id
 * of the watched loop. Ranges appear on the watcher's thread, named `event loop watch`.
 *
 * Opt-in, and only with an NVTX tool attached (otherwise it does nothing). It returns once the watcher
 * runs (it blocks the calling thread for the worker's start-up), with a function that stops
 * the watcher once it has ended any range it had open; it also runs at process exit, so none stays open.
 */
export function instrumentEventLoop(options: EventLoopInstrumentationOptions = {}): () => void {
  if (typeof options !== 'object' || options === null) throw argError('instrumentEventLoop', 0, 'options', 'an object');
  const thresholdMs = options.thresholdMs ?? 50;
  if (typeof thresholdMs !== 'number') throw argError('instrumentEventLoop', 0, 'options.thresholdMs', 'a number');
  if (!(thresholdMs >= 1 && thresholdMs <= 3_600_000)) throw argError('instrumentEventLoop', 0, 'options.thresholdMs', 'from 1 to 3600000 (ms)', true);
  if (!status().native) return () => {};
  const shared = new SharedArrayBuffer(24);
  const words = new Int32Array(shared, 0, 4);
  const lastBeat = new BigInt64Array(shared, LAST_BEAT_BYTE_OFFSET, 1);
  const beat = () => {
    Atomics.store(lastBeat, 0, process.hrtime.bigint());
    Atomics.add(words, BEATS, 1);
    Atomics.notify(words, BEATS);
  };
  beat();
  const worker = new Worker(new URL('./event-loop-watch.js', import.meta.url), {
    workerData: { shared, thresholdMs, watchedTid: binding.threadId() },
  });
  worker.unref();
  let watching = true;
  worker.once('error', (err) => {
    watching = false;
    process.emitWarning(`gil-nvtx: the event-loop watcher stopped: ${err.message}`, { code: 'GIL_NVTX_EVENT_LOOP_WATCHER' });
  });
  worker.once('exit', () => (watching = false));
  // A worker starts in the background, and under nsys its first NVTX call can take hundreds of ms: a
  // block in that time would get no range. So wait (a few tens of ms as a rule) until it watches.
  if (Atomics.wait(words, READY, 0, READY_TIMEOUT_MS) === 'timed-out') {
    process.emitWarning(`gil-nvtx: the event-loop watcher was not running after ${READY_TIMEOUT_MS} ms; blocks before it starts get no range`, { code: 'GIL_NVTX_EVENT_LOOP_WATCHER' });
  }
  beat(); // the wait above was not a block of the loop
  const timer = setInterval(beat, Math.max(1, Math.floor(thresholdMs / 4)));
  timer.unref();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    process.off('exit', stop);
    clearInterval(timer);
    Atomics.store(words, STOP, 1);
    beat();
    // The watcher ends its open range and says so at once; the bound only matters if it never started.
    if (watching) Atomics.wait(words, STOPPED, 0, 2000);
  };
  process.once('exit', stop);
  return stop;
}
