// Locates the GIL hook points of a pristine CPython tree by identifier anchors and renders the
// per-minor patch (patches/cpython-3.<minor>.patch). Plain Node (no dependencies) so that people
// can regenerate a patch for a new patch release without Python or a build.
//
// Every anchor must match exactly once in its window, else we refuse: a patch that lands in the
// wrong place gives plausible but wrong ranges, which is worse than no patch.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const HEADER_SOURCE = new URL('../../patches/src/ceval_gil_nvtx.h', import.meta.url);
/** Where the patch puts the hook header in the CPython tree (next to ceval_gil, so `#include "…"` finds it). */
export const HEADER_DEST = 'Python/ceval_gil_nvtx.h';
export const SUPPORTED_MINORS = [9, 10, 11, 12, 13, 14, 15];

export class PatchGenError extends Error {
  constructor(message, hint) {
    super(message);
    this.name = 'PatchGenError';
    this.hint = hint;
  }
}

/** The file that holds take_gil/drop_gil: a header #included into ceval.c up to 3.11, a .c file since. */
export function gilFileFor(minor) {
  return minor <= 11 ? 'Python/ceval_gil.h' : 'Python/ceval_gil.c';
}

/** C expressions for the payload (interpreter id) and the category (identity of the GIL). */
function idExprs(minor) {
  return {
    interpId: 'interp->id',
    // 3.12+: one GIL per interpreter that asked for its own, else the main interpreter's (id 0).
    gilId: minor >= 12 ? '(interp->ceval.own_gil ? interp->id : 0)' : '0',
  };
}

const MUST_EXIT = /\b(tstate_must_exit|_PyThreadState_MustExit)\(tstate\)/;
const EXIT_OR_HANG = /\b(PyThread_exit_thread|PyThread_hang_thread|_PyThreadState_HangThread)\(/;

/**
 * The hook table. `window` narrows where the anchor is looked for: a function body, optionally cut
 * to the lines between two other anchors. `place` is where the one-line macro call goes.
 */
export function hookTable(minor) {
  const { interpId, gilId } = idExprs(minor);
  const waitLoop = { fn: 'take_gil', from: /MUTEX_LOCK\(gil->mutex\)/, to: /_Py_ANNOTATE_RWLOCK_ACQUIRED\(&gil->locked/ };
  return [
    {
      id: 'include', what: 'include the hook header after condvar.h',
      window: { file: true }, anchor: /^#include "condvar\.h"/, place: 'after',
      line: `#include "ceval_gil_nvtx.h"      /* gil-nvtx: GIL NVTX hooks */`,
    },
    {
      id: 'F', what: 'forget inherited ranges at the top of recreate_gil (fork child)',
      window: { fn: 'recreate_gil' }, anchor: 'body-open', place: 'after',
      line: '_PyGIL_NVTX_FORK_CHILD();',
    },
    {
      id: 'H-', what: 'end Holding right before gil->locked = 0',
      window: { file: true }, anchor: /_Py_ANNOTATE_RWLOCK_RELEASED\(&gil->locked/, place: 'after', tree: true,
      line: '_PyGIL_NVTX_HOLD_END(gil, tstate);',
    },
    {
      id: 'W+', what: 'begin Waiting before take_gil locks gil->mutex (after the must-exit check)',
      window: { fn: 'take_gil' }, anchor: /MUTEX_LOCK\(gil->mutex\)/, place: 'before',
      line: `_PyGIL_NVTX_WAIT_BEGIN(${interpId}, ${gilId});`,
    },
    {
      id: 'W-x', what: 'end Waiting when the waiter must exit or hang',
      window: waitLoop, anchor: MUST_EXIT, place: 'after', followedBy: EXIT_OR_HANG,
      line: '_PyGIL_NVTX_WAIT_END();',
    },
    {
      id: 'M', what: 'mark the drop request the waiter raises',
      window: waitLoop, anchor: /\bSET_GIL_DROP_REQUEST\(|\b_Py_set_eval_breaker_bit\([^)]*_PY_GIL_DROP_REQUEST_BIT/, place: 'before',
      line: `_PyGIL_NVTX_DROP_REQUEST(${interpId}, ${gilId});`,
    },
    {
      id: 'W-d', what: 'end Waiting when the GIL was disabled while waiting (free-threaded)',
      window: waitLoop, anchor: /gil->enabled\)\)\s*\{\s*$/, place: 'after', expect: minor >= 13 ? 1 : 0,
      line: '_PyGIL_NVTX_WAIT_END();',
    },
    {
      id: 'W-/H+', what: 'end Waiting and begin Holding right after gil->locked = 1',
      window: { file: true }, anchor: /_Py_ANNOTATE_RWLOCK_ACQUIRED\(&gil->locked/, place: 'after', tree: true,
      line: `_PyGIL_NVTX_HOLD_BEGIN(gil, tstate, ${interpId}, ${gilId});`,
    },
  ];
}

function functionBody(lines, name, file) {
  const def = new RegExp(`^(?:static\\s+(?:inline\\s+)?[A-Za-z_]\\w*\\s*\\*?\\s*)?${name}\\(`);
  const defs = [];
  lines.forEach((l, i) => {
    if (def.test(l) && !/;\s*$/.test(l)) defs.push(i);
  });
  if (defs.length !== 1) {
    throw new PatchGenError(
      `${file}: expected exactly one definition of ${name}(), found ${defs.length}.`,
      'The CPython source layout changed; the hook table in scripts/python/gil-hooks.mjs needs a look.',
    );
  }
  let open = defs[0];
  while (open < lines.length && !/\{\s*$/.test(lines[open])) open++;
  let close = open + 1;
  while (close < lines.length && lines[close] !== '}') close++;
  if (open >= lines.length || close >= lines.length) {
    throw new PatchGenError(`${file}: could not find the body of ${name}().`);
  }
  return { open, close };
}

function matchingLines(lines, re, lo, hi) {
  const hits = [];
  for (let i = lo; i < hi; i++) if (re.test(lines[i])) hits.push(i);
  return hits;
}

function windowOf(lines, hook, file) {
  const w = hook.window;
  if (w.file) return { lo: 0, hi: lines.length, label: file };
  const body = functionBody(lines, w.fn, file);
  let lo = body.open;
  let hi = body.close;
  let label = `${w.fn}()`;
  for (const [edge, re] of [['from', w.from], ['to', w.to]]) {
    if (!re) continue;
    const hits = matchingLines(lines, re, body.open, body.close);
    if (hits.length !== 1) {
      throw new PatchGenError(
        `${file}: hook ${hook.id}: the window edge ${re} matches ${hits.length} lines in ${w.fn}(), expected 1.`,
        'The CPython source layout changed; refusing to guess where the hook goes.',
      );
    }
    if (edge === 'from') lo = hits[0];
    else hi = hits[0];
  }
  if (w.from || w.to) label += ` between ${w.from ?? 'start'} and ${w.to ?? 'end'}`;
  return { lo, hi, label };
}

function countInTree(root, re) {
  let n = 0;
  const where = [];
  for (const top of ['Include', 'Python', 'Modules', 'Objects', 'Parser']) {
    const stack = [join(root, top)];
    while (stack.length) {
      const dir = stack.pop();
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        continue;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) stack.push(p);
        else if (/\.[ch]$/.test(e.name)) {
          const text = readFileSync(p, 'latin1');
          if (!re.test(text)) continue;
          const k = text.split('\n').filter((l) => re.test(l)).length;
          n += k;
          where.push(p.slice(root.length + 1));
        }
      }
    }
  }
  return { n, where };
}

const indentOf = (l) => /^\s*/.exec(l)[0];

/**
 * Finds every insertion point in `text` (the content of gilFileFor(minor)). Returns
 * [{ hook, index, position: 'before'|'after', line }] where `line` already carries indentation.
 * `treeRoot`, when given, is searched for the two annotations too (they must be unique tree-wide).
 */
export function planHooks(text, minor, { file = gilFileFor(minor), treeRoot } = {}) {
  if (!SUPPORTED_MINORS.includes(minor)) {
    throw new PatchGenError(`CPython 3.${minor} is not supported.`, `Supported minors: ${SUPPORTED_MINORS.map((m) => `3.${m}`).join(', ')}.`);
  }
  const lines = text.split('\n');
  const plan = [];
  for (const hook of hookTable(minor)) {
    const { lo, hi, label } = windowOf(lines, hook, file);
    let hits;
    if (hook.anchor === 'body-open') hits = [lo];
    else hits = matchingLines(lines, hook.anchor, lo, hi);
    const expect = hook.expect ?? 1;
    if (hits.length !== expect) {
      throw new PatchGenError(
        `${file}: hook ${hook.id} (${hook.what}): anchor ${hook.anchor} matches ${hits.length} lines in ${label}, expected ${expect}.`,
        'Refusing to patch: the anchor must identify exactly one place. Check the CPython version and the hook table in scripts/python/gil-hooks.mjs.',
      );
    }
    if (expect === 0) continue;
    const at = hits[0];
    if (hook.followedBy) {
      const next = lines.slice(at + 1, Math.min(at + 14, hi)).findIndex((l) => hook.followedBy.test(l));
      if (next < 0) {
        throw new PatchGenError(`${file}: hook ${hook.id}: ${hook.anchor} at line ${at + 1} is not followed by ${hook.followedBy} within 13 lines.`);
      }
    }
    if (hook.tree && treeRoot) {
      const { n, where } = countInTree(treeRoot, hook.anchor);
      if (n !== 1) {
        throw new PatchGenError(
          `hook ${hook.id}: ${hook.anchor} occurs ${n} times in the tree (${where.join(', ')}), expected exactly once.`,
          'Another code path also flips gil->locked; hooking only one of them would leave unbalanced ranges.',
        );
      }
    }
    let indent = indentOf(lines[at]);
    if (hook.place === 'after' && /\{\s*$/.test(lines[at])) {
      const next = lines.slice(at + 1).find((l) => l.trim() !== '');
      indent = next !== undefined && indentOf(next).length > indent.length ? indentOf(next) : `${indent}    `;
    }
    plan.push({ hook: hook.id, index: at, position: hook.place, line: hook.id === 'include' ? hook.line : indent + hook.line });
  }
  return plan;
}

/** Applies a plan: returns the patched lines and, for each inserted line, its index in the original. */
export function applyPlan(text, plan) {
  const lines = text.split('\n');
  // Insertions keyed by "insert before original line k".
  const before = new Map();
  for (const p of plan) {
    const k = p.position === 'before' ? p.index : p.index + 1;
    if (!before.has(k)) before.set(k, []);
    before.get(k).push(p.line);
  }
  const out = [];
  for (let k = 0; k <= lines.length; k++) {
    for (const l of before.get(k) ?? []) out.push(l);
    if (k < lines.length) out.push(lines[k]);
  }
  return { lines: out.join('\n'), insertions: before };
}

/** A unified diff (3 lines of context) for a change that only inserts lines. */
export function insertionDiff(path, text, insertions, context = 3) {
  const old = text.split('\n');
  // A trailing newline yields a final empty element that is not a line.
  const n = old.at(-1) === '' ? old.length - 1 : old.length;
  const points = [...insertions.keys()].sort((a, b) => a - b);
  const hunks = [];
  for (const k of points) {
    const lo = Math.max(0, k - context);
    const hi = Math.min(n, k + context);
    const last = hunks.at(-1);
    if (last && lo <= last.hi) {
      last.hi = hi;
      last.points.push(k);
    } else hunks.push({ lo, hi, points: [k] });
  }
  // The git header matters: pyenv's python-build applies a --patch with -p1 only when it sees one.
  const out = [`diff --git a/${path} b/${path}`, `--- a/${path}`, `+++ b/${path}`];
  let added = 0;
  for (const h of hunks) {
    const body = [];
    let plus = 0;
    for (let k = h.lo; k <= h.hi; k++) {
      if (h.points.includes(k)) {
        for (const l of insertions.get(k)) body.push(`+${l}`);
        plus += insertions.get(k).length;
      }
      if (k < h.hi) body.push(` ${old[k]}`);
    }
    const oldLen = h.hi - h.lo;
    out.push(`@@ -${h.lo + 1},${oldLen} +${h.lo + 1 + added},${oldLen + plus} @@`, ...body);
    added += plus;
  }
  return `${out.join('\n')}\n`;
}

export function newFileDiff(path, content) {
  const lines = content.endsWith('\n') ? content.slice(0, -1).split('\n') : content.split('\n');
  return [`diff --git a/${path} b/${path}`, 'new file mode 100644', `--- /dev/null`, `+++ b/${path}`, `@@ -0,0 +1,${lines.length} @@`, ...lines.map((l) => `+${l}`)].join('\n') + '\n';
}

/**
 * A committed patch with its hook header block replaced by the current patches/src header. Only
 * that block depends on the header; the hook lines depend on the CPython source, which stays as it
 * was generated from (this is how the minors with no tarball here follow a header change).
 */
export function refreshHeader(patch, header) {
  const start = patch.indexOf(`diff --git a/${HEADER_DEST} b/${HEADER_DEST}\n`);
  if (start < 0) throw new PatchGenError(`the patch has no ${HEADER_DEST} block to refresh.`, 'Regenerate it from a CPython tree instead.');
  const next = patch.indexOf('\ndiff --git ', start);
  if (next < 0) throw new PatchGenError(`the patch has no hook lines after its ${HEADER_DEST} block.`);
  return patch.slice(0, start) + newFileDiff(HEADER_DEST, header) + patch.slice(next + 1);
}

/**
 * A committed patch with each hook line re-rendered from the current hook table, in place. The
 * lines stay where the CPython source put them; only their text (the macro's arguments) follows
 * the table, so that a signature change reaches the minors with no source tree here.
 */
export function refreshHookLines(patch, minor) {
  const byMacro = new Map();
  for (const h of hookTable(minor)) {
    const m = /^(_PyGIL_NVTX_\w+)\(/.exec(h.line);
    if (!m) continue;
    if (byMacro.has(m[1]) && byMacro.get(m[1]) !== h.line) {
      throw new PatchGenError(`hooks for ${m[1]} render differently; cannot refresh by macro name.`);
    }
    byMacro.set(m[1], h.line);
  }
  const start = patch.indexOf(`diff --git a/${gilFileFor(minor)} b/${gilFileFor(minor)}\n`);
  if (start < 0) throw new PatchGenError(`the patch has no ${gilFileFor(minor)} block.`, 'Regenerate it from a CPython tree instead.');
  const head = patch.slice(0, start);
  const body = patch.slice(start).split('\n').map((l) => {
    const m = /^\+(\s*)(_PyGIL_NVTX_\w+)\(.*\);$/.exec(l);
    if (!m) return l;
    const line = byMacro.get(m[2]);
    if (!line) throw new PatchGenError(`the patch calls ${m[2]}, which the hook table no longer has.`, 'Regenerate it from a CPython tree instead.');
    return `+${m[1]}${line}`;
  });
  return head + body.join('\n');
}

export function readVersion(root) {
  const text = readFileSync(join(root, 'Include', 'patchlevel.h'), 'utf8');
  const m = /#define\s+PY_VERSION\s+"(\d+)\.(\d+)\.([^"]+)"/.exec(text);
  if (!m) throw new PatchGenError(`${root}/Include/patchlevel.h has no PY_VERSION.`);
  return { version: `${m[1]}.${m[2]}.${m[3]}`, minor: Number(m[2]) };
}

/**
 * The whole patch for one CPython tree (or, with `minor` and `version`, for a bare gil file under
 * `root`): a short preamble that `patch` ignores, the hook header as a new file, the hook lines.
 */
export function makePatch(root, opts = {}) {
  const { version, minor } = opts.minor ? { version: opts.version ?? `3.${opts.minor}`, minor: opts.minor } : readVersion(root);
  const file = gilFileFor(minor);
  let text;
  try {
    text = readFileSync(join(root, file), 'utf8');
  } catch (err) {
    throw new PatchGenError(`${join(root, file)} cannot be read (${err.code ?? err}).`, `Is ${root} the root of a CPython 3.${minor} source tree?`);
  }
  const isTree = statSafe(join(root, 'Include'));
  const plan = planHooks(text, minor, { file, treeRoot: isTree ? root : undefined });
  const { insertions } = applyPlan(text, plan);
  const header = readFileSync(opts.headerPath ?? HEADER_SOURCE, 'utf8');
  const preamble =
    `gil-nvtx: NVTX "Waiting for GIL" / "Holding GIL" ranges for CPython 3.${minor}.\n` +
    `Generated by scripts/python/make-patches.mjs from patches/src/ceval_gil_nvtx.h and ${file} of CPython ${version}.\n` +
    `Do not edit; regenerate. Apply in a pristine source root with: patch -p1 < cpython-3.${minor}.patch\n` +
    `(or: pyenv install --patch 3.${minor}.N < cpython-3.${minor}.patch)\n` +
    `Build with CFLAGS_NODIST="-DPY_NVTX_GIL -I<NVTX include dir>"; without -DPY_NVTX_GIL it compiles to nothing.\n` +
    `Hooks: ${plan.map((p) => `${p.hook}@${p.index + 1}`).join(' ')}\n\n`;
  return {
    minor,
    version,
    plan,
    patch: preamble + newFileDiff(HEADER_DEST, header) + insertionDiff(file, text, insertions),
  };
}

function statSafe(p) {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
