import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../lib/cli/main.js';
import { buildCollector, findCollector, findOrBuildCollector } from '../../lib/trace/collector-path.js';
import { mergeTrace } from '../../lib/trace/merge.js';
import { DIST_INDEX, ensureBuilt } from '../nvtx/helpers.js';
import { ROOT, ensureCollector, ensureEventsProgram, queryAll, runWithCollector, scratchDir } from './helpers.js';

let program: string;
beforeAll(() => {
  delete process.env.CI; // CI=true makes the CLI quiet; these tests read its summary
  process.env.GIL_NVTX_COLLECTOR = ensureCollector();
  program = ensureEventsProgram();
}, 300_000);

/** Captures what the CLI prints; `stop()` restores the streams and returns the text. */
function capture() {
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  return {
    stop: () => {
      const text = { stderr: err.mock.calls.map((c) => String(c[0])).join(''), stdout: out.mock.calls.map((c) => String(c[0])).join('') };
      err.mockRestore();
      out.mockRestore();
      return text;
    },
  };
}

describe('gil-nvtx trace', () => {
  it('runs the command with the collector, merges into DIR/trace.sqlite and writes Perfetto JSON through lib/report', async () => {
    const dir = scratchDir('cli');
    const io = capture();
    const code = await main(['trace', '-o', dir, '--format', 'perfetto', '--', program, 'fork']);
    const { stderr } = io.stop();
    expect(code).toBe(0);
    expect(stderr).toMatch(/2 process\(es\), 2 thread\(s\), \d+ NVTX event\(s\) -> .*trace\.sqlite/);
    const db = join(dir, 'trace.sqlite');
    expect(queryAll(db, "SELECT value FROM GILNVTX_META WHERE key = 'producer'")).toEqual([{ value: 'gil-nvtx collector' }]);
    const perfetto = JSON.parse(readFileSync(join(dir, 'trace.perfetto.json'), 'utf8')) as { traceEvents: { name?: string }[] };
    expect(perfetto.traceEvents.some((e) => e.name === 'Holding GIL')).toBe(true);
    // No temporary files left behind.
    expect(existsSync(`${db}.tmp-${process.pid}`)).toBe(false);
  });

  it('writes Perfetto JSON for a program without Python (Node alone: NVTX ranges, no GIL)', async () => {
    ensureBuilt();
    const dir = scratchDir('cli-node-perfetto');
    const script = `const g = await import(${JSON.stringify(DIST_INDEX)}); const d = g.domain('svc'); d.range('parse', () => 1); d.mark('done');`;
    const io = capture();
    const code = await main(['trace', '-o', dir, '--format', 'perfetto', '--', process.execPath, '--input-type=module', '-e', script]);
    const { stderr } = io.stop();
    expect(stderr).not.toContain('no GIL ranges');
    expect(code).toBe(0);
    const perfetto = JSON.parse(readFileSync(join(dir, 'trace.perfetto.json'), 'utf8')) as { traceEvents: { name?: string; cat?: string }[] };
    expect(perfetto.traceEvents.filter((e) => e.cat === 'svc').map((e) => e.name)).toEqual(['parse', 'parse', 'done']);
  }, 120_000);

  it("returns the command's exit code and says which process ended without exit()", async () => {
    const dir = scratchDir('cli-exit');
    const io = capture();
    const code = await main(['trace', '-o', dir, '--', program, '_exit']);
    const { stderr } = io.stop();
    expect(code).toBe(3);
    expect(stderr).toMatch(/pid \d+ ended without exit\(\) \(_exit or a signal\)/);
  });

  it('rejects bad input with a clear message and exit code 2', async () => {
    const io = capture();
    expect(await main(['trace', '--format', 'svg', '--', program])).toBe(2);
    expect(await main(['trace'])).toBe(2);
    expect(await main(['trace', '--help'])).toBe(0);
    const { stderr, stdout } = io.stop();
    expect(stderr).toContain("Unknown --format 'svg'");
    expect(stderr).toContain('No command to trace: usage: gil-nvtx trace');
    expect(stdout).toContain('usage: gil-nvtx trace');
  });

  it('a command that makes no NVTX call: a clear error, nothing half-written', async () => {
    const dir = scratchDir('cli-none');
    const io = capture();
    const code = await main(['trace', '-o', dir, '--', 'true']);
    const { stderr } = io.stop();
    expect(code).toBe(1);
    expect(stderr).toContain('No process of the command made an NVTX call, so no trace was written (the command exited with 0)');
    expect(existsSync(join(dir, 'trace.sqlite'))).toBe(false);
  });

  it("keeps a failing command's exit code when no process made an NVTX call", async () => {
    const dir = scratchDir('cli-none-exit');
    const io = capture();
    const code = await main(['trace', '-o', dir, '--', 'sh', '-c', 'exit 3']);
    const { stderr } = io.stop();
    expect(code).toBe(3);
    expect(stderr).toContain('no trace was written (the command exited with 3)');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('explains how to build the collector when it is missing', () => {
    expect(() => findCollector({}, '/nonexistent-root')).toThrow(/not built[\s\S]*build-cmake/);
    try {
      findCollector({}, '/nonexistent-root');
    } catch (err) {
      expect((err as { hint: string }).hint).toContain('npm run build:native');
    }
  });

  it('compiles the collector itself when the package has no build (an install from prebuilds)', () => {
    const dir = scratchDir('cc-build');
    const lib = buildCollector(dir, { root: ROOT });
    const run = runWithCollector([program, 'basic'], join(dir, 'raw'), { NVTX_INJECTION64_PATH: lib });
    expect(run.status).toBe(0);
    expect(mergeTrace(join(dir, 'raw'), join(dir, 'trace.sqlite')).events).toBeGreaterThan(10);
    // An explicit GIL_NVTX_COLLECTOR that does not exist is an error, not a reason to build.
    expect(() => findOrBuildCollector({ env: { GIL_NVTX_COLLECTOR: join(dir, 'missing.so') }, root: '/nonexistent-root' })).toThrow(/not built/);
  }, 120_000);
});
