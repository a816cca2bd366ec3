// The public NVTX API: domains, the default domain's one-liners, thread naming and status.
import { binding } from './binding.js';
import { Domain, type Message, type StringHandle } from './domain.js';
import type { EventAttributes } from './attributes.js';
import type { NativeStats } from './native.js';
import type { Range } from './range.js';
import type { Resource, ResourceIdentifierKind } from './resource.js';
import { argError, checkString } from './validate.js';

export { Domain, INTERN_LIMIT, type Message, type StringHandle } from './domain.js';
export { Range, endRange } from './range.js';
export { Resource, type ResourceIdentifierKind } from './resource.js';
export type { EventAttributes, Payload, PayloadType } from './attributes.js';
export { status, isToolAttached, FORCE_NATIVE_ENV, type NvtxStatus, type BindingMode } from './binding.js';
export { ADDON_PATH_ENV, type NativeStats } from './native.js';
export { currentCorrelationId } from './context.js';

const domains = new Map<string, Domain>();

/** NVTX's default (unnamed) domain; nsys lists its ranges without a domain prefix. */
export const defaultDomain = new Domain('', 0);

/** The domain called `name`; the same name gives the same NVTX domain from any thread or worker. */
export function domain(name: string): Domain {
  let found = domains.get(name);
  if (found === undefined) {
    checkString(name, 'domain', 0, 'name');
    if (name.length === 0) throw argError('domain', 0, 'name', 'a non-empty string (use defaultDomain for the unnamed one)', true);
    found = new Domain(name, binding.domainCreate(name));
    domains.set(name, found);
  }
  return found;
}

/**
 * Names the calling OS thread (main thread or the worker calling it) in NVTX tools. Returns the OS
 * thread id (0 when calls are no-ops).
 */
export function nameThread(name: string): number {
  checkString(name, 'nameThread', 0, 'name');
  return binding.nameThread(name);
}

/** Counters of the native tables (open ranges, slots, strings, …); zeros with the no-op binding. */
export function nativeStats(): NativeStats {
  return binding.stats();
}

// One-liners on the default domain.
export function range<T>(message: Message, fn: () => T): T;
export function range<T>(message: Message, attrs: EventAttributes, fn: () => T): T;
export function range<T>(message: Message, a: EventAttributes | (() => T), b?: () => T): T {
  return b === undefined ? defaultDomain.range(message, a as () => T) : defaultDomain.range(message, a as EventAttributes, b);
}
export function trace<T>(message: Message, fn: () => T | PromiseLike<T>): Promise<T>;
export function trace<T>(message: Message, attrs: EventAttributes, fn: () => T | PromiseLike<T>): Promise<T>;
export function trace<T>(message: Message, a: EventAttributes | (() => T | PromiseLike<T>), b?: () => T | PromiseLike<T>): Promise<T> {
  return b === undefined ? defaultDomain.trace(message, a as () => T) : defaultDomain.trace(message, a as EventAttributes, b);
}
export function start(message: Message, attrs?: EventAttributes): Range {
  return defaultDomain.start(message, attrs);
}
export function mark(message: Message, attrs?: EventAttributes): void {
  defaultDomain.mark(message, attrs);
}
export function push(message: Message, attrs?: EventAttributes): void {
  defaultDomain.push(message, attrs);
}
export function pop(): void {
  defaultDomain.pop();
}
export function registerString(text: string): StringHandle {
  return defaultDomain.registerString(text);
}
export function nameCategory(id: number, name: string): void {
  defaultDomain.nameCategory(id, name);
}
export function resource(identifier: number | bigint, name: string, options?: { kind?: ResourceIdentifierKind }): Resource {
  return defaultDomain.resource(identifier, name, options);
}
