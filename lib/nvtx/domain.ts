// A named NVTX domain and everything that happens in it. Hot calls take registered-string handles and go
// straight to the binding; strings are interned per domain so repeated names cost a Map lookup, not a
// native string conversion.
import { encodeAttributes, type EventAttributes } from './attributes.js';
import { binding } from './binding.js';
import { contextEnabled, currentContext, nextContextId, runInContext } from './context.js';
import { contextPayload } from './context-payload.js';
import { PayloadKind, ResourceKind } from './native.js';
import { Range } from './range.js';
import { Resource, type ResourceIdentifierKind } from './resource.js';
import { argError, checkFunction, checkString, checkUint32 } from './validate.js';

declare const stringHandleBrand: unique symbol;
/** A string registered in one domain (`d.registerString(text)`); use it wherever a name is accepted. */
export type StringHandle = number & { readonly [stringHandleBrand]: true };

/** A range, mark or event name: text, or a handle from `registerString()` of the same domain. */
export type Message = string | StringHandle;

/**
 * Distinct strings interned per domain before further new names are sent as plain text. Registered strings
 * live as long as the process, so names built from request ids must not grow the table forever.
 */
export const INTERN_LIMIT = 4096;

const NOT_STARTED = new Range(0);

// Zero-argument native functions bound to one registered string, by handle (handles are dense small
// integers, so these stay fast element lookups). Filled on first use of a handle in this environment.
const boundPush: (() => void)[] = [];
const boundMark: (() => void)[] = [];
// The domain index each handle registered in this environment belongs to. Every call that takes a
// handle looks it up here first, with or without a tool behind the binding, so a number that is no
// handle (42, 1.5) or a handle of another domain is the same RangeError in both modes, and never
// reaches the addon, which would take 1.5 for handle 1 and push another domain's handle into that one.
const handleDomain: number[] = [];

function pushFor(handle: number): () => void {
  return (boundPush[handle] = binding.bindPush(handle));
}

function markFor(handle: number): () => void {
  return (boundMark[handle] = binding.bindMark(handle));
}

export class Domain {
  /** The domain name ('' for NVTX's default domain). */
  readonly name: string;
  /** @internal index into the process-wide native domain registry (0 = default domain). */
  readonly index: number;
  readonly #interned = new Map<string, number>();
  readonly #pop: () => void;

  /** @internal use `domain(name)` */
  constructor(name: string, index: number) {
    this.name = name;
    this.index = index;
    this.#pop = binding.bindPop(index);
  }

  /** Registers `text` once in this domain and returns its handle; the same text always gives the same handle. */
  registerString(text: string): StringHandle {
    checkString(text, 'registerString', 0, 'text');
    let handle = this.#interned.get(text);
    if (handle === undefined) handle = this.#register(text);
    return handle as StringHandle;
  }

  /** Opens a push/pop range on the current thread. Synchronous scopes only: prefer `range()`. */
  push(message: Message, attrs?: EventAttributes): void {
    if (attrs === undefined && typeof message === 'number' && handleDomain[message] === this.index) {
      (boundPush[message] ?? pushFor(message))();
      return;
    }
    this.#emit('push', message, attrs);
  }

  /** Closes the innermost push/pop range of this domain on this thread (a no-op on an empty stack). */
  pop(): void {
    this.#pop();
  }

  /** Runs `fn` inside a push/pop range, popping even when it throws. For synchronous code. */
  range<T>(message: Message, fn: () => T): T;
  range<T>(message: Message, attrs: EventAttributes, fn: () => T): T;
  range<T>(message: Message, attrsOrFn: EventAttributes | (() => T), maybeFn?: () => T): T {
    let attrs: EventAttributes | undefined;
    let fn: () => T;
    if (typeof attrsOrFn === 'function') fn = attrsOrFn;
    else {
      attrs = attrsOrFn;
      fn = maybeFn as () => T;
      checkFunction(fn, 'range', 2, 'fn');
    }
    if (typeof fn !== 'function') throw argError('range', 1, 'fn', 'a function');
    this.push(message, attrs);
    try {
      return fn();
    } finally {
      this.#pop();
    }
  }

  /** Starts a start/end range: safe across `await`, and endable from another thread. `using r = d.start(...)`. */
  start(message: Message, attrs?: EventAttributes): Range {
    // Inside a tracked request a range without a payload of its own records its parent (context.ts).
    if (contextEnabled() && attrs?.payload === undefined) {
      const parent = currentContext();
      if (parent !== 0) return this.#startWithContext(message, attrs, contextPayload(parent, nextContextId()));
    }
    let id: number;
    if (attrs === undefined && typeof message === 'number' && handleDomain[message] === this.index) id = binding.start(message);
    else id = this.#emit('start', message, attrs);
    return id === 0 ? NOT_STARTED : new Range(id);
  }

  /** Runs `fn` inside a start/end range that ends when its promise settles, rejections included. */
  trace<T>(message: Message, fn: () => T | PromiseLike<T>): Promise<T>;
  trace<T>(message: Message, attrs: EventAttributes, fn: () => T | PromiseLike<T>): Promise<T>;
  async trace<T>(message: Message, attrsOrFn: EventAttributes | (() => T | PromiseLike<T>), maybeFn?: () => T | PromiseLike<T>): Promise<T> {
    let attrs: EventAttributes | undefined;
    let fn: () => T | PromiseLike<T>;
    if (typeof attrsOrFn === 'function') fn = attrsOrFn;
    else {
      attrs = attrsOrFn;
      fn = maybeFn as () => T;
      checkFunction(fn, 'trace', 2, 'fn');
    }
    if (typeof fn !== 'function') throw argError('trace', 1, 'fn', 'a function');
    // A trace() range is a parent: ranges started inside fn (across awaits) record it as theirs.
    const self = contextEnabled() && attrs?.payload === undefined ? nextContextId() : 0;
    const range = self === 0 ? this.start(message, attrs) : this.#startWithContext(message, attrs, contextPayload(currentContext(), self));
    try {
      return await (self === 0 ? fn() : runInContext(self, fn));
    } finally {
      range.end();
    }
  }

  #startWithContext(message: Message, attrs: EventAttributes | undefined, payload: number): Range {
    // A handle and no other attributes (the hot shape): straight to the addon, no attributes object.
    const id =
      attrs === undefined && typeof message === 'number'
        ? binding.startEx(this.index, message, 0, undefined, PayloadKind.uint64, payload)
        : this.#emit('start', message, { ...attrs, payload: { type: 'uint64', value: payload } });
    return id === 0 ? NOT_STARTED : new Range(id);
  }

  /** An instantaneous event. */
  mark(message: Message, attrs?: EventAttributes): void {
    if (attrs === undefined && typeof message === 'number' && handleDomain[message] === this.index) {
      (boundMark[message] ?? markFor(message))();
      return;
    }
    this.#emit('mark', message, attrs);
  }

  /** Names category `id` in this domain (tools show the name instead of the number). */
  nameCategory(id: number, name: string): void {
    checkUint32(id, 'nameCategory', 0, 'id');
    checkString(name, 'nameCategory', 1, 'name');
    binding.nameCategory(this.index, id, name);
  }

  /** The category id for `name` in this domain, naming the lowest free id the first time (process-wide). */
  category(name: string): number {
    checkString(name, 'category', 0, 'name');
    return binding.categoryId(this.index, name);
  }

  /**
   * Names an object for NVTX tools: a pointer-like or handle-like identifier (number or BigInt) and a name.
   * Nsight Systems does not record resources; the gil-nvtx collector does. `destroy()` is safe twice.
   */
  resource(identifier: number | bigint, name: string, options: { kind?: ResourceIdentifierKind } = {}): Resource {
    if (typeof identifier !== 'bigint' && (typeof identifier !== 'number' || !Number.isSafeInteger(identifier) || identifier < 0)) {
      throw argError('resource', 0, 'identifier', 'a non-negative integer or a BigInt');
    }
    checkString(name, 'resource', 1, 'name');
    const kind = options.kind ?? 'pointer';
    if (kind !== 'pointer' && kind !== 'handle') throw argError('resource', 2, 'options.kind', "'pointer' or 'handle'", true);
    return new Resource(binding.resourceCreate(this.index, ResourceKind[kind], identifier, name), name);
  }

  // The slower shape of push/start/mark: a string name and/or attributes.
  #emit(kind: 'push' | 'start' | 'mark', message: Message, attrs: EventAttributes | undefined): number {
    let wire: number | string;
    if (typeof message === 'string') {
      const handle = this.#intern(message);
      wire = handle === 0 ? message : handle;
    } else if (typeof message === 'number') {
      if (handleDomain[message] !== this.index) throw argError(kind, 0, 'message', 'a handle from registerString() of this domain', true);
      wire = message;
    } else {
      throw argError(kind, 0, 'message', 'a string or a handle from registerString()');
    }
    if (attrs === undefined) {
      if (typeof wire === 'number') {
        if (kind === 'start') return binding.start(wire);
        if (kind === 'push') (boundPush[wire] ?? pushFor(wire))();
        else (boundMark[wire] ?? markFor(wire))();
        return 0;
      }
      attrs = {};
    }
    const a = encodeAttributes(attrs, kind, (name) => this.category(name));
    if (kind === 'push') binding.pushEx(this.index, wire, a.category, a.color, a.payloadKind, a.payload);
    else if (kind === 'mark') binding.markEx(this.index, wire, a.category, a.color, a.payloadKind, a.payload);
    else return binding.startEx(this.index, wire, a.category, a.color, a.payloadKind, a.payload);
    return 0;
  }

  #intern(text: string): number {
    let handle = this.#interned.get(text);
    if (handle === undefined) {
      if (this.#interned.size >= INTERN_LIMIT) return 0;
      handle = this.#register(text);
    }
    return handle;
  }

  #register(text: string): number {
    const handle = binding.registerString(this.index, text);
    this.#interned.set(text, handle);
    handleDomain[handle] = this.index;
    return handle;
  }
}
