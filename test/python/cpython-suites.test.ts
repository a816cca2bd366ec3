import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildName } from '../../lib/python/paths.js';
import { collectorCandidates } from '../../lib/trace/collector-path.js';
import { collectorEnv } from '../../lib/trace/run.js';
import { RAW_FILE_SUFFIX } from '../../lib/trace/raw-format.js';
import { patchedPythonOrSkip, pythonsToTest } from '../helpers/pythons.js';
import { toolGate } from '../helpers/tools.js';

/**
 * CPython's own regression suites pass on each patched interpreter with an NVTX tool
 * attached. The tool is the embedded collector (NVTX_INJECTION64_PATH), inherited by every worker
 * process `-m test -j2` starts, so the patched take_gil/drop_gil paths really call into a tool.
 */
const SUITES = [
  'test_threading',
  'test_thread',
  'test_threadsignals',
  'test_fork1',
  'test_os',
  'test_subprocess',
  'test_concurrent_futures',
  'test_queue',
];

/**
 * Test cases that assert a child process's exact set of open file descriptors. With a tool attached,
 * the child's own collector holds its trace file open (fd 3), which such a test counts as a leak; an
 * unpatched interpreter never calls NVTX, so its collector never opens a file. These run separately
 * below with no tool attached, where they must pass.
 */
const FD_EXACT_CASES = ['*test_pass_fds_redirected'];

const collector = collectorCandidates().find((p) => existsSync(p)) ?? null;
const collectorGate = toolGate('the gil-nvtx collector (npm run build:native)', collector !== null, 'GIL_NVTX_REQUIRE_PYTHONS');
const work = mkdtempSync(join(tmpdir(), 'gil-nvtx-suites-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe.skipIf(collectorGate.skip)('CPython regression suites on the patched interpreters, collector attached', () => {
  for (const p of pythonsToTest()) {
    const name = buildName(p.version, p.disableGil ?? false);
    it.skipIf(p.reason !== undefined)(`${name}: ${SUITES.length} suites${p.version.startsWith('3.13') ? ' + test_free_threading' : ''} pass`, { timeout: 3_600_000 }, async (ctx) => {
      const got = await patchedPythonOrSkip(p.version, { disableGil: p.disableGil });
      if ('skip' in got) {
        ctx.skip(got.skip);
        return;
      }
      const suites = [...SUITES];
      // find_spec, not import: on default (GIL) builds the package raises SkipTest when imported.
      const hasFt = await run(got.python, ['-c', "import importlib.util, sys; sys.exit(importlib.util.find_spec('test.test_free_threading') is None)"], process.env);
      if (hasFt.code === 0) suites.push('test_free_threading');
      if (p.version.startsWith('3.13')) expect(suites).toContain('test_free_threading');

      const rawDir = join(work, name, 'raw');
      const env = collectorEnv(collector!, rawDir, { ...process.env, PYTHONUNBUFFERED: '1' });
      delete env.PYTHON_GIL_NVTX; // instrumentation on
      const { mkdirSync } = await import('node:fs');
      mkdirSync(rawDir, { recursive: true });
      const ignore = FD_EXACT_CASES.flatMap((pat) => ['-i', pat]);
      const r = await run(got.python, ['-m', 'test', '-j2', '--timeout=900', ...ignore, ...suites], env);
      const tail = r.output.trim().split('\n').slice(-40).join('\n');
      expect(r.code, `python -m test failed on ${name}:\n${tail}`).toBe(0);
      expect(r.output).toMatch(/Tests? result: SUCCESS|Result: SUCCESS/);
      // The tool really was attached: the collector left a file per traced process (runner + workers + children).
      const files = readdirSync(rawDir).filter((f) => f.endsWith(RAW_FILE_SUFFIX));
      expect(files.length).toBeGreaterThanOrEqual(3);
      expect(files.some((f) => statSync(join(rawDir, f)).size > 4096)).toBe(true);
      rmSync(rawDir, { recursive: true, force: true });

      // The fd-exact cases, on the same patched interpreter without a tool.
      const bare = { ...process.env };
      delete bare.NVTX_INJECTION64_PATH;
      const match = FD_EXACT_CASES.flatMap((pat) => ['-m', pat]);
      const fd = await run(got.python, ['-m', 'test', '--timeout=900', ...match, 'test_subprocess'], bare);
      expect(fd.code, fd.output.trim().split('\n').slice(-20).join('\n')).toBe(0);
      expect(fd.output).toMatch(/Tests? result: SUCCESS|Result: SUCCESS/);
    });
  }
});
