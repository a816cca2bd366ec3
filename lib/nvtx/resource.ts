// NVTX resources name an object (a pointer or handle) for tools. Nsight Systems 2022.4 records none of
// them; the gil-nvtx collector and other NVTX tools can.
import { binding } from './binding.js';

export type ResourceIdentifierKind = 'pointer' | 'handle';

export class Resource implements Disposable {
  #id: number;
  readonly name: string;

  /** @internal */
  constructor(id: number, name: string) {
    this.#id = id;
    this.name = name;
  }

  get destroyed(): boolean {
    return this.#id === 0;
  }

  /** Destroys the NVTX resource. Safe to call twice; returns whether this call destroyed it. */
  destroy(): boolean {
    const id = this.#id;
    if (id === 0) return false;
    this.#id = 0;
    return binding.resourceDestroy(id);
  }

  [Symbol.dispose](): void {
    this.destroy();
  }
}
