import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PATCH_DIR, SUPPORTED_MINORS, patchFileFor } from '../../lib/python/patches.js';
import { GilNvtxError } from '../../lib/errors.js';
// @ts-expect-error plain-JS generator (scripts/python), no type declarations
import { PatchGenError, applyPlan, makePatch, planHooks, refreshHeader, refreshHookLines } from '../../scripts/python/gil-hooks.mjs';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MINI = readFileSync(new URL('./fixtures/mini_ceval_gil.c', import.meta.url), 'utf8');
const HEADER = readFileSync(join(ROOT, 'patches/src/ceval_gil_nvtx.h'), 'utf8');
const GENERATOR = join(ROOT, 'scripts/python/make-patches.mjs');

/** Hook macro → how many call sites every patch of that minor must add. */
function expectedCalls(minor: number): Record<string, number> {
  return {
    '_PyGIL_NVTX_WAIT_BEGIN(': 1,
    '_PyGIL_NVTX_WAIT_END(': minor >= 13 ? 2 : 1, // W-x, and W-d on free-threaded builds
    '_PyGIL_NVTX_HOLD_BEGIN(': 1,
    '_PyGIL_NVTX_HOLD_END(': 1,
    '_PyGIL_NVTX_DROP_REQUEST(': 1,
    '_PyGIL_NVTX_FORK_CHILD(': 1,
    '#include "ceval_gil_nvtx.h"': 1,
  };
}

function gilFileDiff(patch: string): string {
  const at = patch.indexOf('--- a/Python/ceval_gil.');
  expect(at).toBeGreaterThan(0);
  return patch.slice(at);
}

describe('the hook plan', () => {
  it('puts every hook at its anchor, in order, on a minimal ceval_gil', () => {
    const plan = planHooks(MINI, 13, { file: 'mini_ceval_gil.c' }) as { hook: string; index: number; line: string }[];
    const lines = MINI.split('\n');
    const at = Object.fromEntries(plan.map((p) => [p.hook, lines[p.index]!.trim()]));
    expect(at['W+']).toBe('MUTEX_LOCK(gil->mutex);');
    expect(at['W-/H+']).toMatch(/^_Py_ANNOTATE_RWLOCK_ACQUIRED/);
    expect(at['H-']).toMatch(/^_Py_ANNOTATE_RWLOCK_RELEASED/);
    expect(at['W-x']).toBe('if (_PyThreadState_MustExit(tstate)) {');
    expect(at['W-d']).toMatch(/gil->enabled/);
    expect(at.M).toMatch(/_PY_GIL_DROP_REQUEST_BIT/);
    const patched = applyPlan(MINI, plan).lines.split('\n') as string[];
    // W-x lands inside the must-exit block of the wait loop, before the unlock, indented with it.
    const wx = patched.findIndex((l) => l.includes('_PyGIL_NVTX_WAIT_END();'));
    expect(patched[wx - 1]).toContain('_PyThreadState_MustExit');
    expect(patched[wx + 1]).toContain('MUTEX_UNLOCK');
    expect(patched[wx]!.indexOf('_Py')).toBe(patched[wx + 1]!.indexOf('MUTEX'));
    // H+ directly after the acquisition annotation; H- before locked goes back to 0.
    const hp = patched.findIndex((l) => l.includes('_PyGIL_NVTX_HOLD_BEGIN(gil, tstate, interp->id, (interp->ceval.own_gil ? interp->id : 0));'));
    expect(patched[hp - 1]).toContain('_Py_ANNOTATE_RWLOCK_ACQUIRED');
    const hm = patched.findIndex((l) => l.includes('_PyGIL_NVTX_HOLD_END(gil, tstate);'));
    expect(patched[hm + 1]).toContain('set_locked(gil, 0)');
  });

  it('uses the single process-wide GIL (category 0) before 3.12', () => {
    const noDisabled = MINI.replace(/#ifdef Py_GIL_DISABLED[\s\S]*?#endif\n/, '');
    const plan = planHooks(noDisabled, 11, { file: 'x.h' }) as { hook: string; line: string }[];
    expect(plan.find((p) => p.hook === 'W+')!.line.trim()).toBe('_PyGIL_NVTX_WAIT_BEGIN(interp->id, 0);');
    expect(plan.some((p) => p.hook === 'W-d')).toBe(false);
  });

  it.each([
    ['an anchor that matches twice', MINI.replace('    MUTEX_UNLOCK(gil->mutex);\n}\n', '    _Py_ANNOTATE_RWLOCK_ACQUIRED(&gil->locked, 1);\n}\n'), /W-\/H\+.*matches 2 lines/],
    ['an anchor that is missing', MINI.replace(/_Py_ANNOTATE_RWLOCK_RELEASED/, 'ANNOTATE_GONE'), /hook H-.*matches 0 lines/],
    ['a second take_gil definition', `${MINI}\nstatic void\ntake_gil(PyThreadState *t)\n{\n}\n`, /exactly one definition of take_gil\(\), found 2/],
    ['a free-threaded block in a version that has none', MINI, /hook W-d.*matches 1 lines.*expected 0/],
  ])('refuses to patch with %s', (_what, text, message) => {
    const minor = message.source.includes('W-d') ? 12 : 13;
    let err: unknown;
    try {
      planHooks(text, minor, { file: 'mini_ceval_gil.c' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PatchGenError);
    expect((err as Error).message).toMatch(message);
    expect((err as Error).message).toContain('mini_ceval_gil.c');
  });

  it('refuses unsupported minors', () => {
    expect(() => planHooks(MINI, 8)).toThrow(/3\.8 is not supported/);
  });

  it('refreshes only the header block: the same bytes as generating with the new header', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gil-refresh-'));
    mkdirSync(join(dir, 'Python'));
    writeFileSync(join(dir, 'Python/ceval_gil.c'), MINI);
    const newHeader = join(dir, 'new.h');
    writeFileSync(newHeader, `${HEADER}/* one more line */\n`);
    const old = makePatch(dir, { minor: 13, version: '3.13.99' }).patch as string;
    const regenerated = makePatch(dir, { minor: 13, version: '3.13.99', headerPath: newHeader }).patch as string;
    expect(regenerated).not.toBe(old);
    expect(refreshHeader(old, readFileSync(newHeader, 'utf8'))).toBe(regenerated);
    expect(() => refreshHeader(gilFileDiff(old), HEADER)).toThrow(PatchGenError);
  });

  it('re-renders hook lines in place from the hook table: a patch with old macro arguments becomes the generated one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gil-refresh-lines-'));
    mkdirSync(join(dir, 'Python'));
    writeFileSync(join(dir, 'Python/ceval_gil.c'), MINI);
    const current = makePatch(dir, { minor: 13, version: '3.13.99' }).patch as string;
    // As the patches were before the hold hooks took the thread state.
    const old = current.replace(/^\+(\s+)_PyGIL_NVTX_HOLD_END\(gil, tstate\);$/m, '+$1_PyGIL_NVTX_HOLD_END(gil);').replace(/^\+(\s+)_PyGIL_NVTX_HOLD_BEGIN\(gil, tstate, /m, '+$1_PyGIL_NVTX_HOLD_BEGIN(gil, ');
    expect(old).not.toBe(current);
    expect(refreshHookLines(old, 13)).toBe(current);
    expect(() => refreshHookLines(old.replace(/^\+(\s+)_PyGIL_NVTX_HOLD_END\(gil\);$/m, '+$1_PyGIL_NVTX_GONE(gil);'), 13)).toThrow(/no longer has/);
  });
});

describe('the committed patches', () => {
  it.each(SUPPORTED_MINORS.map((m) => [m]))('cpython-%s.patch carries the header verbatim and each hook exactly once', (minorStr) => {
    const minor = Number(minorStr.split('.')[1]);
    const patch = readFileSync(patchFileFor(minorStr), 'utf8');
    // The single source of truth: the header in the patch is patches/src/ceval_gil_nvtx.h, byte for byte.
    const m = /\+\+\+ b\/Python\/ceval_gil_nvtx\.h\n@@ -0,0 \+1,(\d+) @@\n/.exec(patch);
    expect(m).not.toBeNull();
    const body = patch.slice(m!.index + m![0].length).split('\n').slice(0, Number(m![1]));
    expect(body.map((l) => l.slice(1)).join('\n') + '\n').toBe(HEADER);
    const added = gilFileDiff(patch).split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'));
    for (const [call, n] of Object.entries(expectedCalls(minor))) {
      expect(added.filter((l) => l.includes(call)), `${call} in 3.${minor}`).toHaveLength(n);
    }
    // pyenv's python-build picks -p1 only for patches with a git header.
    expect(patch).toMatch(/^diff --git a\/Python\/ceval_gil_nvtx\.h b\/Python\/ceval_gil_nvtx\.h$/m);
    // Only insertions: the patch never changes or removes a CPython line.
    expect(gilFileDiff(patch).split('\n').filter((l) => l.startsWith('-') && !l.startsWith('---'))).toEqual([]);
    expect(added).toHaveLength(Object.values(expectedCalls(minor)).reduce((a, b) => a + b, 0));
  });

  it('applies with patch -p1 to the minimal tree and yields the planned lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gilpatch-'));
    mkdirSync(join(dir, 'Python'));
    writeFileSync(join(dir, 'Python/ceval_gil.c'), MINI);
    const { patch, plan } = makePatch(dir, { minor: 13, version: 'mini' });
    const run = spawnSync('patch', ['-p1', '--no-backup-if-mismatch'], { cwd: dir, input: patch, encoding: 'utf8' });
    expect(run.status, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).not.toMatch(/fuzz|offset/);
    expect(readFileSync(join(dir, 'Python/ceval_gil_nvtx.h'), 'utf8')).toBe(HEADER);
    expect(readFileSync(join(dir, 'Python/ceval_gil.c'), 'utf8')).toBe(applyPlan(MINI, plan).lines);
  });
});

describe('patchFileFor', () => {
  it('maps any release of a supported minor to its patch', () => {
    expect(patchFileFor('3.11.2')).toBe(join(PATCH_DIR, 'cpython-3.11.patch'));
    expect(patchFileFor('3.13.5t')).toBe(join(PATCH_DIR, 'cpython-3.13.patch'));
    expect(patchFileFor('3.15.0b1')).toBe(join(PATCH_DIR, 'cpython-3.15.patch'));
    expect(patchFileFor('3.9')).toBe(join(PATCH_DIR, 'cpython-3.9.patch'));
  });

  it.each(['3.8.10', '2.7.18', '3.1.0', 'latest', ''])('rejects %j with a GilNvtxError', (v) => {
    expect(() => patchFileFor(v)).toThrow(GilNvtxError);
    expect(() => patchFileFor(v)).toThrow(/No GIL patch for CPython/);
  });
});

describe('make-patches CLI', () => {
  it('fails with a clear message and writes nothing for a tree that is not CPython', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gilpatch-'));
    const out = mkdtempSync(join(tmpdir(), 'gilpatch-out-'));
    const run = spawnSync(process.execPath, [GENERATOR, '--out', out, '--minor', '3.12', dir], { encoding: 'utf8' });
    expect(run.status).toBe(3);
    expect(run.stderr).toMatch(/ceval_gil\.c cannot be read/);
    expect(run.stderr).toMatch(/hint: Is .* the root of a CPython 3\.12 source tree/);
    expect(spawnSync('ls', ['-A', out], { encoding: 'utf8' }).stdout).toBe('');
  });

  it('refuses, without writing, when an anchor is ambiguous', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gilpatch-'));
    const out = mkdtempSync(join(tmpdir(), 'gilpatch-out-'));
    mkdirSync(join(dir, 'Python'));
    writeFileSync(join(dir, 'Python/ceval_gil.c'), MINI.replace('MUTEX_LOCK(gil->mutex);\n    while', 'MUTEX_LOCK(gil->mutex);\n    MUTEX_LOCK(gil->mutex);\n    while'));
    const run = spawnSync(process.execPath, [GENERATOR, '--out', out, '--minor', '3.13', dir], { encoding: 'utf8' });
    expect(run.status).toBe(3);
    expect(run.stderr).toMatch(/MUTEX_LOCK.*matches 2 lines in take_gil\(\)/);
    expect(spawnSync('ls', ['-A', out], { encoding: 'utf8' }).stdout).toBe('');
  });
});
