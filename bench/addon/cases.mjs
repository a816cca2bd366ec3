// The benchmark cases, shared by the mitata run (bench.mjs) and the callgrind counts (count-case.mjs).
// Baselines first: a JS no-op function and the empty native call (a raw napi_callback returning nullptr).
import { do_not_optimize } from 'mitata';

export const CASES = {
  jsNoop: 'JS no-op function',
  native1: 'empty native call',
  native2: 'empty native call ×2',
  apiPair: 'push+pop pair, Domain API (addon), registered string',
  apiPairText: 'push+pop pair, Domain API (addon), string name (interned)',
  apiPairAttrs: 'push+pop pair, Domain API (addon), with color+payload',
  rawArgPair: 'push+pop pair, raw one-argument exports',
  apiStartEnd: 'start+end, Domain API (addon)',
  apiMark: 'mark, Domain API (addon)',
  noopPair: 'push+pop pair, JS no-op path (no tool)',
  noopRange: 'range(handle, fn), JS no-op path',
  noopMark: 'mark, JS no-op path',
};

export function makeCases({ raw, native, noop }) {
  const rawDomain = raw.domainCreate('bench raw');
  const rawHandle = raw.registerString(rawDomain, 'pair');
  const d = native.domain('bench');
  const h = d.registerString('pair');
  const attrs = { color: 0xff00aa00, payload: 42 };
  const dn = noop.domain('bench');
  const hn = dn.registerString('pair');
  const jsNoop = () => {};
  return {
    jsNoop: () => jsNoop(),
    native1: () => raw.noop(),
    native2: () => {
      raw.noop();
      raw.noop();
    },
    apiPair: () => {
      d.push(h);
      d.pop();
    },
    apiPairText: () => {
      d.push('pair');
      d.pop();
    },
    apiPairAttrs: () => {
      d.push(h, attrs);
      d.pop();
    },
    rawArgPair: () => {
      raw.push(rawHandle);
      raw.pop(rawDomain);
    },
    apiStartEnd: () => d.start(h).end(),
    apiMark: () => d.mark(h),
    noopPair: () => {
      dn.push(hn);
      dn.pop();
    },
    noopRange: () => do_not_optimize(dn.range(hn, jsNoop)),
    noopMark: () => dn.mark(hn),
  };
}
