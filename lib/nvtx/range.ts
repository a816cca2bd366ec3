// Start/end ranges as disposable objects: `using r = d.start('job')` ends at scope exit, `r.end()` by hand.
import { binding } from './binding.js';

export class Range implements Disposable {
  #id: number;

  /** @internal */
  constructor(id: number) {
    this.#id = id;
  }

  /**
   * The range's slot id (a uint32, 0 when nothing was started). Post it to another worker and call
   * `endRange(id)` there to end the range on that thread.
   */
  get id(): number {
    return this.#id;
  }

  get ended(): boolean {
    return this.#id === 0;
  }

  /** Ends the range; later calls (and ending an id someone else already ended) do nothing. */
  end(): void {
    const id = this.#id;
    if (id === 0) return;
    this.#id = 0;
    binding.end(id);
  }

  [Symbol.dispose](): void {
    this.end();
  }
}

/** Ends a range by slot id, from any thread; unknown, stale or already-ended ids are ignored. */
export function endRange(id: number): void {
  if (typeof id === 'number') binding.end(id);
}
