// The binding used when no NVTX tool is attached (or the addon did not load): same surface as the addon,
// plain JS, so calls cost a JIT-inlined empty function. Names and strings still get stable handles so code
// written against handles behaves the same in both modes.
import type { NativeStats, RawBinding } from './native.js';
import { argError } from './validate.js';

// The addon's table sizes (native/addon/registry.h kMaxDomains, kMaxStrings): the no-op binding refuses
// what the addon refuses, so code that runs without a tool does not fail only once it is profiled.
const MAX_DOMAINS = 1 << 12; // index 0 is the default domain
const MAX_STRINGS = 1 << 20; // handle 0 means "none"

/** The error both bindings give for one domain too many. */
export function tooManyDomains(): Error {
  return argError('domain', 0, 'name', `new only while fewer than ${MAX_DOMAINS - 1} named domains exist`, true);
}

export function createNoopBinding(): RawBinding {
  const domains = new Map<string, number>([['', 0]]);
  const strings = new Map<string, number>();
  const categories = new Map<string, number>();
  const liveResources = new Set<number>();
  let nextResource = 0;
  const nothing = (): void => {};
  return {
    noop: nothing,
    push: nothing,
    pop: nothing,
    start: () => 0,
    end: nothing,
    mark: nothing,
    bindPush: () => nothing,
    bindMark: () => nothing,
    bindPop: () => nothing,
    domainCreate(name) {
      let index = domains.get(name);
      if (index === undefined) {
        if (domains.size >= MAX_DOMAINS) throw tooManyDomains();
        domains.set(name, (index = domains.size));
      }
      return index;
    },
    registerString(domain, text) {
      const key = `${domain}\0${text}`;
      let handle = strings.get(key);
      if (handle === undefined) {
        if (strings.size + 1 >= MAX_STRINGS) {
          throw argError('registerString', 0, 'text', `new only while fewer than ${MAX_STRINGS - 1} strings are registered`, true);
        }
        strings.set(key, (handle = strings.size + 1));
      }
      return handle;
    },
    pushEx: nothing,
    startEx: () => 0,
    markEx: nothing,
    nameCategory(domain, id, name) {
      categories.set(`${domain}\0${name}`, id);
    },
    categoryId(domain, name) {
      const key = `${domain}\0${name}`;
      let id = categories.get(key);
      if (id === undefined) {
        const used = new Set([...categories].filter(([k]) => k.startsWith(`${domain}\0`)).map(([, v]) => v));
        for (id = 1; used.has(id); id++);
        categories.set(key, id);
      }
      return id;
    },
    resourceCreate() {
      liveResources.add(++nextResource);
      return nextResource;
    },
    resourceDestroy: (id) => liveResources.delete(id),
    nameThread: () => 0,
    threadId: () => 0,
    stats: (): NativeStats => ({
      openRanges: 0,
      rangeSlots: 0,
      rangeSlotCapacity: 0,
      domains: domains.size - 1,
      strings: strings.size,
      resources: liveResources.size,
      envSerial: 0,
    }),
  };
}
