// The gil_nvtx Python module under the collector: every form of the API records the rows NVIDIA's nvtx
// package would (same domain, message, color, category and payload semantics), bad arguments are
// Python exceptions, and the module is built beside an interpreter without touching its build stamp.
import { readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureNvtxModule } from '../../lib/python/nvtx-module.js';
import { mergeTrace } from '../../lib/trace/merge.js';
import { STAMP_FILE } from '../../lib/python/build.js';
import { patchedPythonOrSkip, pythonsToTest } from '../helpers/pythons.js';
import { buildName } from '../../lib/python/paths.js';
import { ensureCollector, readEvents, runWithCollector, scratchDir, type NormalizedEvent } from '../trace/helpers.js';

const patched = await patchedPythonOrSkip('3.11.2');
const python = 'python' in patched ? patched.python : '';

function tracePython(code: string, interpreter = python): { status: number | null; stderr: string; stdout: string; events: NormalizedEvent[] } {
  const dir = scratchDir('pynvtx');
  const run = runWithCollector([interpreter, '-u', '-c', code], join(dir, 'raw'));
  if (run.status !== 0) return { status: run.status, stderr: run.stderr, stdout: run.stdout, events: [] };
  const db = join(dir, 'trace.sqlite');
  mergeTrace(join(dir, 'raw'), db);
  return { status: run.status, stderr: run.stderr, stdout: run.stdout, events: readEvents(db).filter((e) => e.domain !== 'CPython GIL') };
}

const PROGRAM = `
import threading
import gil_nvtx as nvtx

with nvtx.annotate("ctx", color="red", domain="app", category="io", payload=7):
    nvtx.mark("inside", domain="app", payload=2.5)

@nvtx.annotate(domain="app", color=0x00ff00)
def decorated(x):
    return x + 1

class Job:
    @nvtx.annotate("method", domain="app", category=3)
    def run(self):
        return 42

assert decorated(1) == 2 and decorated.__name__ == "decorated"
assert Job().run() == 42
nvtx.push_range("pushed", payload=2**63)
nvtx.pop_range()
r = nvtx.start_range("started", domain="other", payload=-5)
t = threading.Thread(target=nvtx.end_range, args=(r,))
t.start(); t.join()
nvtx.mark()
with nvtx.annotate():
    pass
`;

describe.skipIf('skip' in patched)('the gil_nvtx Python module', () => {
  beforeAll(() => {
    ensureCollector();
  }, 300_000);

  it('is built into the interpreter beside its build stamp, which it leaves alone', async () => {
    const prefix = join(python, '..', '..');
    const stamp = readFileSync(join(prefix, STAMP_FILE), 'utf8');
    const r = await ensureNvtxModule(python);
    expect(statSync(r.path).isFile()).toBe(true);
    expect(r.path).toMatch(/\/site-packages\/gil_nvtx\.cpython-311-[^/]*\.so$/);
    // Already up to date (the test helper built it): nothing to do, and the identity of the build is untouched.
    expect((await ensureNvtxModule(python)).built).toBe(false);
    // A module whose source changed (here: whose record of it is gone) is rebuilt in place.
    rmSync(join(dirname(r.path), 'gil_nvtx.build.json'));
    expect((await ensureNvtxModule(python)).built).toBe(true);
    expect((await ensureNvtxModule(python)).built).toBe(false);
    expect(readFileSync(join(prefix, STAMP_FILE), 'utf8')).toBe(stamp);
    // NVTX headers no longer found: an up-to-date module still serves; nothing to build it from is an error.
    const noHeaders = { ...process.env, NVTX_INCLUDE_DIR: '/nonexistent/nvtx' };
    expect((await ensureNvtxModule(python, { env: noHeaders })).built).toBe(false);
    rmSync(join(dirname(r.path), 'gil_nvtx.build.json'));
    await expect(ensureNvtxModule(python, { env: noHeaders })).rejects.toThrow(/^NVTX headers not found: NVTX_INCLUDE_DIR=\/nonexistent\/nvtx/);
    expect((await ensureNvtxModule(python)).built).toBe(true);
  });

  it('says in one line when the interpreter cannot be asked for its sysconfig', async () => {
    await expect(ensureNvtxModule('/bin/false')).rejects.toThrow(/^Could not read the sysconfig of \/bin\/false to build the gil_nvtx module \(exit 1\)\.$/);
  });

  it('records each API form with its domain, message, color, category and payload', () => {
    const { status, stderr, events } = tracePython(PROGRAM);
    expect(status, stderr).toBe(0);
    const one = (name: string, eventType: number) => {
      const found = events.filter((e) => e.name === name && e.eventType === eventType);
      expect(found, `${name} (${eventType}): ${JSON.stringify(events.map((e) => [e.name, e.eventType, e.domain]))}`).toHaveLength(1);
      return found[0]!;
    };
    // 59 push/pop, 60 start/end, 34 mark (the nsys export's event types).
    const ctx = one('ctx', 59);
    expect(ctx).toMatchObject({ domain: 'app', color: 0xffff0000, payload: 'i64:7' });
    expect(ctx.category).toBeGreaterThan(0);
    const inside = one('inside', 34);
    expect(inside).toMatchObject({ domain: 'app', payload: 'f64:2.5' });
    expect(inside.start).toBeGreaterThanOrEqual(ctx.start);
    expect(inside.start).toBeLessThanOrEqual(ctx.end!);
    expect(one('decorated', 59)).toMatchObject({ domain: 'app', color: 0xff00ff00, payload: null });
    expect(one('method', 59)).toMatchObject({ domain: 'app', category: 3 });
    // The default domain has NVIDIA's package's name; a payload past int64 is an unsigned one (SQLite
    // keeps its 64 bits in a signed INTEGER).
    expect(one('pushed', 59)).toMatchObject({ domain: 'NVTX', payload: `u64:${BigInt.asIntN(64, 2n ** 63n)}` });
    const started = one('started', 60);
    expect(started).toMatchObject({ domain: 'other', payload: 'i64:-5' });
    expect(started.endTid).not.toBe(started.tid);
    // No message: the empty one, as NVIDIA's package records.
    expect(events.filter((e) => e.name === '' && e.domain === 'NVTX').map((e) => e.eventType).sort()).toEqual([34, 59]);
    expect(events.filter((e) => (e.eventType === 59 || e.eventType === 60) && e.end === null)).toEqual([]);
  });

  it('turns bad arguments into Python exceptions, one line each', () => {
    const { status, stderr, stdout } = tracePython(`
import gil_nvtx as nvtx
for kw in [dict(message=3), dict(color="no-such-color"), dict(color=2**40), dict(payload="x"), dict(payload=2**64),
           dict(domain=1), dict(category=[]), dict(bogus=1)]:
    try:
        nvtx.mark(**kw)
        print("accepted", kw)
    except (TypeError, ValueError, OverflowError) as e:
        print(type(e).__name__, e)
try:
    nvtx.end_range(5)
except TypeError as e:
    print("TypeError", e)
try:
    nvtx.annotate("x")(3)
except TypeError as e:
    print("TypeError", e)
`);
    expect(status, stderr).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(10);
    expect(lines.filter((l) => l.startsWith('accepted'))).toEqual([]);
    expect(lines[0]).toBe('TypeError message must be a str or None, not int');
    expect(lines[7]).toBe("TypeError mark() got an unexpected keyword argument 'bogus'");
  });

  it('allocates nothing per push/pop, mark or decorated call once a message has been seen', () => {
    // tracemalloc's peak over 20 000 iterations: a loop doing nothing sets the floor (its iterator), and
    // any allocation inside the loop, even one freed at once, would raise the peak above it.
    const { status, stderr, stdout } = tracePython(`
import itertools, json, tracemalloc
import gil_nvtx as nvtx

@nvtx.annotate("decorated", domain="hot")
def decorated():
    pass

def empty(n):
    for _ in itertools.repeat(None, n):
        pass

def push_pop(n):
    for _ in itertools.repeat(None, n):
        nvtx.push_range("m", color="red", domain="hot", category="c", payload=5)
        nvtx.pop_range(domain="hot")

def marks(n):
    for _ in itertools.repeat(None, n):
        nvtx.mark("m", domain="hot", payload=2.5)

def calls(n):
    for _ in itertools.repeat(None, n):
        decorated()

peaks = {}
for fn in (empty, push_pop, marks, calls):
    fn(10)
    tracemalloc.start()
    fn(20000)
    peaks[fn.__name__] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
print(json.dumps(peaks))
`);
    expect(status, stderr).toBe(0);
    const peaks = JSON.parse(stdout.trim()) as Record<string, number>;
    expect(peaks.push_pop).toBe(peaks.empty);
    expect(peaks.marks).toBe(peaks.empty);
    expect(peaks.calls).toBe(peaks.empty);
  });
});

// Every supported interpreter built here gets the module on first use and records the same rows; a
// free-threaded one keeps its GIL off when the module is imported.
describe.each(pythonsToTest())('the gil_nvtx module on CPython $version', (p) => {
  const name = buildName(p.version, p.disableGil ?? false);
  it(`builds against ${name} and records each form`, async (ctx) => {
    if (p.reason) ctx.skip(p.reason);
    const got = await patchedPythonOrSkip(p.version, { disableGil: p.disableGil });
    if ('skip' in got) ctx.skip(got.skip);
    ensureCollector();
    await ensureNvtxModule((got as { python: string }).python);
    const { status, stderr, stdout, events } = tracePython(
      `
import sys, gil_nvtx as nvtx
with nvtx.annotate("a", domain="v"):
    nvtx.mark("m", domain="v", payload=1)
nvtx.push_range("p", domain="v", category="c", color="blue"); nvtx.pop_range(domain="v")
nvtx.end_range(nvtx.start_range("s", domain="v", payload=2.0))
print(getattr(sys, "_is_gil_enabled", lambda: True)())
`,
      (got as { python: string }).python,
    );
    expect(status, stderr).toBe(0);
    expect(stdout.trim()).toBe(p.disableGil ? 'False' : 'True');
    const rows = events.filter((e) => e.domain === 'v' && [34, 59, 60].includes(e.eventType)).map((e) => `${e.eventType} ${e.name} ${e.payload}`).sort();
    expect(rows).toEqual(['34 m i64:1', '59 a null', '59 p null', '60 s f64:2.0']);
  });

  it(`${name}: threads naming new domains, messages and categories at once lose no row`, async (ctx) => {
    if (p.reason) ctx.skip(p.reason);
    const got = await patchedPythonOrSkip(p.version, { disableGil: p.disableGil });
    if ('skip' in got) ctx.skip(got.skip);
    ensureCollector();
    await ensureNvtxModule((got as { python: string }).python);
    // On a free-threaded build these run truly in parallel: the caches are filled from 8 threads at once.
    const { status, stderr, events } = tracePython(
      `
import threading, gil_nvtx as nvtx
def work():
    for i in range(300):
        d = f"race {i % 20}"
        nvtx.push_range(f"m{i % 60}", domain=d, category=f"c{i % 10}", color="red")
        nvtx.mark("x", domain=d, payload=i)
        nvtx.pop_range(domain=d)
ts = [threading.Thread(target=work) for _ in range(8)]
for t in ts: t.start()
for t in ts: t.join()
`,
      (got as { python: string }).python,
    );
    expect(status, stderr).toBe(0);
    const race = events.filter((e) => e.domain?.startsWith('race '));
    expect(race.filter((e) => e.eventType === 34)).toHaveLength(2400);
    const pushed = race.filter((e) => e.eventType === 59);
    expect(pushed).toHaveLength(2400);
    expect(pushed.filter((e) => e.end === null || !/^m\d+$/.test(e.name ?? ''))).toEqual([]);
  });
});
