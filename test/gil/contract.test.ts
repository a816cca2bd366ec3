// lib/gil-contract.ts is what the TypeScript side knows of the patch's NVTX output; the hook header
// (patches/src/ceval_gil_nvtx.h) and the collector (native/collector/nvtx_collector.c) write the same
// names in C. The header is not generated (a change to it changes every patch and rebuilds every
// interpreter), so this reads both C files and checks them against the module.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as C from '../../lib/gil-contract.js';

const read = (rel: string) => readFileSync(new URL(`../../${rel}`, import.meta.url), 'utf8');
const header = read('patches/src/ceval_gil_nvtx.h');
const collector = read('native/collector/nvtx_collector.c');

/** The string literals of every call of `fn` in `src`, in order. */
function literalArgs(src: string, call: RegExp): string[] {
  return [...src.matchAll(call)].map((m) => m[1]!);
}

describe('the GIL contract: lib/gil-contract.ts says what the C code says', () => {
  it('the hook header creates the GIL domain under GIL_DOMAIN, once', () => {
    expect(literalArgs(header, /nvtxDomainCreateA\(\s*"([^"]*)"\s*\)/g)).toEqual([C.GIL_DOMAIN]);
  });

  it('the hook header registers the wait, hold and drop-request messages of the module', () => {
    const attr = (which: string) => literalArgs(header, new RegExp(`_py_gil_nvtx_attr\\(\\s*&_py_gil_nvtx_${which}_attr\\s*,\\s*"([^"]*)"`, 'g'));
    expect(attr('wait')).toEqual([C.WAITING_MESSAGE]);
    expect(attr('hold')).toEqual([C.HOLDING_MESSAGE]);
    expect(attr('drop')).toEqual([C.DROP_REQUEST_MESSAGE]);
  });

  it('the hook header marks locations of the kinds LOCATION_TEXT parses, in its "<what> at " form', () => {
    const whats = literalArgs(header, /_py_gil_nvtx_mark_where\(\s*"([^"]*)"/g);
    expect(whats.length).toBeGreaterThan(0);
    expect([...new Set(whats)].sort()).toEqual(C.LOCATION_KINDS.map((k) => `GIL ${k}`).sort());
    expect(header).toMatch(/for \(const char \*c = " at "; \*c/);
    for (const what of whats) {
      const text = `${what} at hog (/srv/app.py:11)`;
      expect(C.LOCATION_TEXT.exec(text)?.slice(1), text).toEqual([what.slice('GIL '.length), 'hog', '/srv/app.py', '11']);
    }
  });

  it('LOCATION_TEXT_LIKE selects the location marks and none of the other GIL messages', () => {
    // SQL LIKE: % is any run of characters (case folding aside, which none of these need).
    const like = new RegExp(`^${C.LOCATION_TEXT_LIKE.split('%').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
    for (const k of C.LOCATION_KINDS) expect(`GIL ${k} at f (x.py:1)`).toMatch(like);
    for (const m of [C.WAITING_MESSAGE, C.HOLDING_MESSAGE, C.DROP_REQUEST_MESSAGE]) expect(m).not.toMatch(like);
  });

  it('the collector recognises the GIL domain and its hold message by the module’s names', () => {
    const define = (name: string) => new RegExp(`^#define ${name} "([^"]*)"`, 'm').exec(collector)?.[1];
    expect(define('GIL_DOMAIN_NAME')).toBe(C.GIL_DOMAIN);
    expect(define('GIL_HOLDING_MESSAGE')).toBe(C.HOLDING_MESSAGE);
  });
});
