// The API without an NVTX tool: the JS no-op path, the forced native path (the addon loaded, NVTX with no
// tool behind it) and the load-failure fallback. Each mode needs a fresh module graph, because the binding
// is chosen once at load.
import { afterEach, describe, expect, it, vi } from 'vitest';

type Api = typeof import('../../lib/index.js');

async function load(env: Record<string, string | undefined>): Promise<Api> {
  vi.resetModules();
  vi.stubEnv('NVTX_INJECTION64_PATH', undefined as unknown as string);
  vi.stubEnv('GIL_NVTX_FORCE_NATIVE', undefined as unknown as string);
  vi.stubEnv('GIL_NVTX_ADDON_PATH', undefined as unknown as string);
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v as string);
  return import('../../lib/index.js');
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

const TYPE_ERROR = /^gil-nvtx: \w+\(\): argument \d \([\w.]+\) must be /;

function behavesLikeTheApi(mode: 'noop-no-tool' | 'native', env: Record<string, string | undefined>) {
  it('reports its mode', async () => {
    const nvtx = await load(env);
    expect(nvtx.status().mode).toBe(mode);
    expect(nvtx.status().native).toBe(mode === 'native');
    expect(nvtx.isToolAttached()).toBe(false);
  });

  it('gives the same domain and the same handle for the same name', async () => {
    const nvtx = await load(env);
    const a = nvtx.domain('svc');
    expect(nvtx.domain('svc')).toBe(a);
    expect(nvtx.domain('other')).not.toBe(a);
    const h = a.registerString('db.query');
    expect(typeof h).toBe('number');
    expect(a.registerString('db.query')).toBe(h);
    expect(a.registerString('db.write')).not.toBe(h);
    expect(nvtx.defaultDomain.name).toBe('');
  });

  it('range() returns the result and pops even when fn throws', async () => {
    const nvtx = await load(env);
    const d = nvtx.domain('svc');
    expect(d.range('a', () => 42)).toBe(42);
    expect(d.range(d.registerString('b'), { color: 0xff00aa00, category: 'io', payload: 7 }, () => 'x')).toBe('x');
    expect(() => d.range('c', () => { throw new Error('boom'); })).toThrow('boom');
    expect(nvtx.range('default', () => 1)).toBe(1);
  });

  it('trace() resolves with fn’s value, ends on rejection, and leaves no range open', async () => {
    const nvtx = await load(env);
    const d = nvtx.domain('svc');
    // The addon counts open start/end ranges; the no-op binding has none to count. So in native mode the
    // range is seen open inside fn (across an await too) and closed once the promise settled.
    const openInside = mode === 'native' ? 1 : 0;
    const seen: number[] = [];
    const open = () => seen.push(nvtx.nativeStats().openRanges);
    await expect(d.trace('t', async () => { open(); await new Promise((r) => setImmediate(r)); open(); return 5; })).resolves.toBe(5);
    expect(nvtx.nativeStats().openRanges).toBe(0);
    await expect(d.trace('t', { payload: 1n }, async () => { open(); throw new Error('nope'); })).rejects.toThrow('nope');
    expect(nvtx.nativeStats().openRanges).toBe(0);
    await expect(d.trace('t', () => { open(); throw new Error('sync'); })).rejects.toThrow('sync');
    expect(nvtx.nativeStats().openRanges).toBe(0);
    await expect(nvtx.trace('t', async () => { open(); return 3; })).resolves.toBe(3);
    expect(nvtx.nativeStats().openRanges).toBe(0);
    expect(seen).toEqual([openInside, openInside, openInside, openInside, openInside]);
  });

  it('start() gives disposable ranges; ending twice or by a stale id does nothing', async () => {
    const nvtx = await load(env);
    const d = nvtx.domain('svc');
    const r = d.start('job', { payload: { type: 'uint32', value: 3 } });
    if (mode === 'native') {
      expect(r.id).toBeGreaterThan(0);
      expect(r.id).toBeLessThan(2 ** 31);
      expect(nvtx.nativeStats().openRanges).toBe(1);
    }
    const firstId = r.id;
    r.end();
    r.end();
    expect(r.ended).toBe(true);
    nvtx.endRange(firstId); // already ended: nothing happens
    const r2 = d.start(d.registerString('job2'));
    const id2 = r2.id;
    r2[Symbol.dispose]();
    const r3 = d.start('job3');
    nvtx.endRange(id2); // stale: must not end r3
    if (mode === 'native') expect(nvtx.nativeStats().openRanges).toBe(1);
    r3.end();
    nvtx.endRange(123456789);
    nvtx.endRange(0);
    expect(nvtx.nativeStats().openRanges).toBe(0);
  });

  it('marks, categories, resources and thread names accept every documented shape', async () => {
    const nvtx = await load(env);
    const d = nvtx.domain('svc');
    d.mark('m');
    d.mark(d.registerString('m2'), { color: 0xffff0000, category: 3, payload: 1.5 });
    for (const type of ['int32', 'uint32', 'int64', 'uint64', 'float', 'double'] as const) {
      d.mark('typed', { payload: { type, value: type.endsWith('64') ? 9n : 9 } });
    }
    d.mark('big', { payload: 2n ** 64n - 1n });
    nvtx.mark('default mark');
    d.nameCategory(7, 'seven');
    const io = d.category('io');
    expect(d.category('io')).toBe(io);
    expect(d.category('db')).not.toBe(io);
    const res = d.resource(0x1234, 'mutex');
    expect(res.destroy()).toBe(true);
    expect(res.destroy()).toBe(false);
    const res2 = d.resource(2n ** 63n, 'handle', { kind: 'handle' });
    res2[Symbol.dispose]();
    expect(res2.destroyed).toBe(true);
    const tid = nvtx.nameThread('vitest main');
    expect(typeof tid).toBe('number');
    if (mode === 'native') expect(tid).toBe(process.pid);
  });

  it('takes huge and non-ASCII strings', async () => {
    const nvtx = await load(env);
    const d = nvtx.domain('ünïcødé ✓ 🚀');
    expect(d.name).toBe('ünïcødé ✓ 🚀');
    expect(nvtx.domain('ünïcødé ✓ 🚀')).toBe(d);
    expect(nvtx.domain('ünïcødé ✓ 🚁')).not.toBe(d);
    const huge = 'x'.repeat(1_000_000) + '✓';
    expect(d.range(huge, () => 'in huge')).toBe('in huge');
    d.mark('日本語のマーク', { payload: 1 });
    // Two strings that differ only in their last character (past the first megabyte, or one UTF-16 unit
    // of an astral character) are two strings: nothing truncates or mangles them on the way in.
    const before = nvtx.nativeStats().strings;
    const a = d.registerString(`${huge}a`);
    const b = d.registerString(`${huge}b`);
    const rocket = d.registerString('émoji 🚀');
    const helicopter = d.registerString('émoji 🚁');
    expect(new Set([a, b, rocket, helicopter]).size).toBe(4);
    expect(d.registerString(`${huge}a`)).toBe(a);
    expect(d.registerString('émoji 🚀')).toBe(rocket);
    if (mode === 'native') expect(nvtx.nativeStats().strings).toBe(before + 4);
    expect(d.range(rocket, () => 'in rocket')).toBe('in rocket');
    const r = d.start(huge);
    if (mode === 'native') expect(nvtx.nativeStats().openRanges).toBe(1);
    r.end();
    expect(r.ended).toBe(true);
    expect(nvtx.nativeStats().openRanges).toBe(0);
    const tid = nvtx.nameThread('スレッド');
    expect(tid).toBe(mode === 'native' ? process.pid : 0);
  });

  it('pop() on an empty stack is harmless and touches no start/end range', async () => {
    const nvtx = await load(env);
    const d = nvtx.domain('svc');
    // Pops with nothing pushed must not end (or corrupt) a start/end range that is open meanwhile.
    const r = d.start('open across the pops');
    const open = nvtx.nativeStats().openRanges;
    if (mode === 'native') expect(open).toBe(1);
    for (let i = 0; i < 10; i++) expect(d.pop()).toBeUndefined();
    expect(nvtx.pop()).toBeUndefined();
    expect(nvtx.nativeStats().openRanges).toBe(open);
    expect(r.ended).toBe(mode !== 'native'); // no-op ranges are never started
    // And the push/pop stack still works afterwards.
    expect(d.range('after', () => 7)).toBe(7);
    r.end();
    expect(nvtx.nativeStats().openRanges).toBe(0);
  });

  it('wrong argument types throw TypeErrors with the uniform wording', async () => {
    const nvtx = await load(env);
    const d = nvtx.domain('svc');
    const bad: [string, () => unknown][] = [
      ['domain', () => nvtx.domain(42 as never)],
      ['registerString', () => d.registerString({} as never)],
      ['push', () => d.push({} as never)],
      ['push', () => d.push(null as never, {})],
      ['mark', () => d.mark(Symbol('x') as never)],
      ['start', () => d.start(undefined as never)],
      ['range', () => d.range('x', 5 as never)],
      ['range', () => d.range('x', {}, 5 as never)],
      ['push', () => d.push('x', { color: '#fff' as never })],
      ['mark', () => d.mark('x', { payload: 'heavy' as never })],
      ['mark', () => d.mark('x', { category: {} as never })],
      ['mark', () => d.mark('x', { payload: { type: 'int32', value: 1n } as never })],
      ['nameCategory', () => d.nameCategory('1' as never, 'x')],
      ['nameCategory', () => d.nameCategory(1, 2 as never)],
      ['resource', () => d.resource('ptr' as never, 'x')],
      ['resource', () => d.resource(1, undefined as never)],
      ['nameThread', () => nvtx.nameThread(1 as never)],
    ];
    for (const [fn, call] of bad) {
      let caught: unknown;
      try {
        call();
      } catch (err) {
        caught = err;
      }
      expect(caught, fn).toBeInstanceOf(TypeError);
      expect((caught as Error).message, fn).toMatch(TYPE_ERROR);
      expect((caught as Error).message, fn).toContain(`${fn}()`);
    }
    await expect(d.trace('x', 1 as never)).rejects.toThrow(TypeError);
    expect(() => d.mark('x', { color: -1 })).toThrow(RangeError);
    expect(() => d.mark('x', { payload: 2n ** 64n })).toThrow(RangeError);
    expect(() => nvtx.domain('')).toThrow(RangeError);
  });
}

describe('no tool attached: JS no-ops', () => {
  behavesLikeTheApi('noop-no-tool', {});
});

describe('no tool attached, GIL_NVTX_FORCE_NATIVE=1: the addon', () => {
  behavesLikeTheApi('native', { GIL_NVTX_FORCE_NATIVE: '1' });

  it('the native backstop throws the same TypeErrors for calls that skip the JS checks', async () => {
    const { loadNative, PayloadKind } = await import('../../lib/nvtx/native.js');
    const raw = loadNative({ ...process.env, GIL_NVTX_ADDON_PATH: undefined }).binding!;
    expect(raw).not.toBeNull();
    const calls: [string, () => unknown, typeof TypeError | typeof RangeError][] = [
      ['push', () => raw.push('x' as never), TypeError],
      ['push', () => (raw.push as () => void)(), TypeError],
      ['pop', () => raw.pop({} as never), TypeError],
      ['start', () => raw.start(null as never), TypeError],
      ['end', () => raw.end('1' as never), TypeError],
      ['mark', () => raw.mark(undefined as never), TypeError],
      ['push', () => raw.push(0), RangeError],
      ['push', () => raw.push(0xfffffff), RangeError],
      ['pop', () => raw.pop(4000), RangeError],
      ['bindPush', () => raw.bindPush(0), RangeError],
      ['bindMark', () => raw.bindMark('x' as never), TypeError],
      ['bindPop', () => raw.bindPop(5000), RangeError],
      ['domainCreate', () => raw.domainCreate(1 as never), TypeError],
      ['registerString', () => raw.registerString(0, 5 as never), TypeError],
      ['registerString', () => raw.registerString(9999, 'x'), RangeError],
      ['pushEx', () => raw.pushEx(0, {} as never, 0, undefined, 0, undefined), TypeError],
      ['pushEx', () => raw.pushEx(0, 'x', 0, 'red' as never, 0, undefined), TypeError],
      ['markEx', () => raw.markEx(0, 'x', 0, undefined, 2, 'big' as never), TypeError],
      ['markEx', () => raw.markEx(0, 'x', 0, undefined, 77, 1), RangeError],
      ['startEx', () => raw.startEx(0, 'x', 'io' as never, undefined, 0, undefined), TypeError],
      ['resourceCreate', () => raw.resourceCreate(0, 0x10001, -1, 'x'), TypeError],
      ['resourceCreate', () => raw.resourceCreate(0, 5, 1, 'x'), RangeError],
      ['resourceDestroy', () => raw.resourceDestroy('x' as never), TypeError],
      ['nameThread', () => raw.nameThread(undefined as never), TypeError],
      // Numbers that do not fit: refused, never wrapped, zeroed or cast with undefined behaviour.
      ['markEx', () => raw.markEx(0, 'x', 0, undefined, PayloadKind.int32, 2 ** 40), RangeError],
      ['markEx', () => raw.markEx(0, 'x', 0, undefined, PayloadKind.uint32, -1), RangeError],
      ['markEx', () => raw.markEx(0, 'x', 0, undefined, PayloadKind.int32, NaN), RangeError],
      ['markEx', () => raw.markEx(0, 'x', 0, undefined, PayloadKind.int64, NaN), RangeError],
      ['markEx', () => raw.markEx(0, 'x', 0, undefined, PayloadKind.int64, 2 ** 63), RangeError],
      ['markEx', () => raw.markEx(0, 'x', 0, undefined, PayloadKind.uint64, -1), RangeError],
      ['markEx', () => raw.markEx(0, 'x', 0, undefined, PayloadKind.uint64, -1n), RangeError],
      ['markEx', () => raw.markEx(0, 'x', 0, undefined, PayloadKind.int64, 2n ** 63n), RangeError],
      ['markEx', () => raw.markEx(0, 'x', 0, undefined, PayloadKind.float, 1e39), RangeError],
      ['markEx', () => raw.markEx(0, 'x', 1.5, undefined, 0, undefined), RangeError],
      ['pushEx', () => raw.pushEx(0, 'x', 0, -1, 0, undefined), RangeError],
    ];
    for (const [fn, call, kind] of calls) {
      let caught: unknown;
      try {
        call();
      } catch (err) {
        caught = err;
      }
      expect(caught, fn).toBeInstanceOf(kind);
      expect((caught as Error).message, fn).toMatch(TYPE_ERROR);
      expect((caught as Error).message, fn).toContain(`${fn}()`);
    }
    // A handle registered in one domain cannot carry an event into another.
    const a = raw.domainCreate('backstop-a');
    const b = raw.domainCreate('backstop-b');
    const h = raw.registerString(a, 'only in a');
    expect(() => raw.markEx(b, h, 0, undefined, 0, undefined)).toThrow(RangeError);
    // A fraction is no handle: 1.5 must not pass for handle 1.
    expect(() => raw.markEx(a, h + 0.5, 0, undefined, 0, undefined)).toThrow(RangeError);
    raw.markEx(a, h, 0, undefined, PayloadKind.uint64, 2 ** 64 - 2 ** 11);
    expect(raw.domainCreate('backstop-a')).toBe(a);
  });
});

describe('start/end slot reuse (addon)', () => {
  it('a stale id never ends the newer range that reuses its slot', async () => {
    const nvtx = await load({ GIL_NVTX_FORCE_NATIVE: '1' });
    const d = nvtx.domain('slots');
    const h = d.registerString('r');
    const INDEX_MASK = (1 << 18) - 1; // native/addon/ranges.h kIndexBits
    const before = nvtx.nativeStats();
    // Enough ranges that freed slots start being reused (ranges.h kReuseDepth = 4096).
    const stale: number[] = [];
    for (let i = 0; i < 4200; i++) {
      const r = d.start(h);
      stale.push(r.id);
      r.end();
    }
    const byIndex = new Map(stale.map((id) => [id & INDEX_MASK, id]));
    let reused: { live: ReturnType<typeof d.start>; staleId: number } | undefined;
    const extra = [];
    for (let i = 0; i < 5000 && !reused; i++) {
      const live = d.start(h);
      const staleId = byIndex.get(live.id & INDEX_MASK);
      if (staleId !== undefined && staleId !== live.id) reused = { live, staleId };
      else extra.push(live);
    }
    expect(reused, 'a slot was reused').toBeDefined();
    const open = nvtx.nativeStats().openRanges;
    nvtx.endRange(reused!.staleId);
    expect(nvtx.nativeStats().openRanges).toBe(open);
    reused!.live.end();
    for (const r of extra) r.end();
    expect(nvtx.nativeStats().openRanges).toBe(before.openRanges);
    expect(nvtx.nativeStats().rangeSlots).toBeLessThanOrEqual(4097);
  });
});

describe('the addon cannot load', () => {
  it('keeps the API working as no-ops and warns once, listing what was tried and how to fix it', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const nvtx = await load({ GIL_NVTX_FORCE_NATIVE: '1', GIL_NVTX_ADDON_PATH: '/nonexistent/gil-nvtx.node' });
    const s = nvtx.status();
    expect(s.mode).toBe('noop-load-failed');
    expect(s.native).toBe(false);
    expect(s.loadError).toContain('/nonexistent/gil-nvtx.node (GIL_NVTX_ADDON_PATH)');
    expect(s.loadError).toContain('npm run build:native');
    const d = nvtx.domain('svc');
    expect(d.range('a', () => 1)).toBe(1);
    await expect(d.trace('b', async () => 2)).resolves.toBe(2);
    d.start('c').end();
    d.mark('d', { payload: 1 });
    nvtx.domain('another');
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]?.[0])).toContain('Tried:');
  });

  it('a file that is not the addon is reported too', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const nvtx = await load({ GIL_NVTX_FORCE_NATIVE: '1', GIL_NVTX_ADDON_PATH: new URL('./helpers.ts', import.meta.url).pathname });
    expect(nvtx.status().mode).toBe('noop-load-failed');
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('GIL_NVTX_FORCE_NATIVE=0 stays on no-ops even with a tool in the environment', async () => {
    const nvtx = await load({ GIL_NVTX_FORCE_NATIVE: '0', NVTX_INJECTION64_PATH: '/some/tool.so' });
    expect(nvtx.status().mode).toBe('noop-disabled');
    expect(nvtx.isToolAttached()).toBe(true);
  });
});
