// The watcher of instrumentEventLoop() (event-loop.ts), in a worker of its own: it sleeps until the
// watched loop's beat counter moves or `thresholdMs` pass without a beat, which is a block.
import { workerData } from 'node:worker_threads';
import { domain, nameThread, type Domain, type StringHandle } from '../nvtx/index.js';
import { BEATS, EVENT_LOOP_BLOCKED, EVENT_LOOP_DOMAIN, LAST_BEAT_BYTE_OFFSET, READY, STOP, STOPPED } from './event-loop-contract.js';

const { shared, thresholdMs, watchedTid } = workerData as { shared: SharedArrayBuffer; thresholdMs: number; watchedTid: number };
const words = new Int32Array(shared, 0, 4);
const lastBeat = new BigInt64Array(shared, LAST_BEAT_BYTE_OFFSET, 1);
/** Tells the thread that started this one to go on: 1 when watching, 2 when set-up failed (it then gets the 'error'). */
function ready(state: 1 | 2): void {
  Atomics.store(words, READY, state);
  Atomics.notify(words, READY);
}
let d: Domain;
let name: StringHandle;
try {
  nameThread('event loop watch');
  d = domain(EVENT_LOOP_DOMAIN);
  name = d.registerString(EVENT_LOOP_BLOCKED);
  d.nameCategory(watchedTid, `event loop of tid ${watchedTid}`);
} catch (err) {
  ready(2);
  throw err;
}
ready(1);

while (Atomics.load(words, STOP) === 0) {
  const seen = Atomics.load(words, BEATS);
  if (Atomics.wait(words, BEATS, seen, thresholdMs) !== 'timed-out' || Atomics.load(words, STOP) !== 0) continue;
  const silentNs = Number(process.hrtime.bigint() - Atomics.load(lastBeat, 0));
  const range = d.start(name, { category: watchedTid, payload: silentNs });
  // Until the loop runs its next timer (or is told to stop, which also bumps the counter).
  Atomics.wait(words, BEATS, seen);
  range.end();
}
Atomics.store(words, STOPPED, 1);
Atomics.notify(words, STOPPED);
