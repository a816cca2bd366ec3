#!/usr/bin/env node
// Regenerates patches/cpython-3.<minor>.patch from pristine CPython sources.
//
//   node scripts/python/make-patches.mjs <cpython-source-root>...        write the patches
//   node scripts/python/make-patches.mjs --check <cpython-source-root>... compare, write nothing
//   node scripts/python/make-patches.mjs --minor 3.12 --version 3.12.3 <dir-with-Python/ceval_gil.c>
//   node scripts/python/make-patches.mjs --refresh-header                 new header and hook-line text into every patch
//
// A root is an unpacked release tarball (Include/patchlevel.h tells the version). With --minor, the
// root may hold just Python/ceval_gil.{h,c} (for versions whose full tarball is not at hand).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HEADER_SOURCE, PatchGenError, SUPPORTED_MINORS, makePatch, refreshHeader, refreshHookLines } from './gil-hooks.mjs';

const PATCH_DIR = fileURLToPath(new URL('../../patches/', import.meta.url));

function writeAtomically(dest, text) {
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, dest);
}

function main(argv) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      check: { type: 'boolean', default: false },
      minor: { type: 'string' },
      version: { type: 'string' },
      out: { type: 'string' },
      'refresh-header': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const outDir = values.out ?? PATCH_DIR;
  if (values['refresh-header'] && positionals.length === 0) {
    const header = readFileSync(HEADER_SOURCE, 'utf8');
    for (const minor of SUPPORTED_MINORS) {
      const name = `cpython-3.${minor}.patch`;
      writeAtomically(join(outDir, name), refreshHookLines(refreshHeader(readFileSync(join(PATCH_DIR, name), 'utf8'), header), minor));
      process.stdout.write(`refreshed the hook header and hook lines in ${join(outDir, name)}\n`);
    }
    return 0;
  }
  if (values.help || positionals.length === 0) {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 10).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
    return values.help ? 0 : 2;
  }
  let minor;
  if (values.minor !== undefined) {
    const m = /^3\.(\d+)$/.exec(values.minor);
    if (!m) throw new PatchGenError(`--minor must look like 3.12, got "${values.minor}".`);
    minor = Number(m[1]);
  }
  let stale = 0;
  for (const root of positionals) {
    const r = makePatch(root, minor === undefined ? {} : { minor, version: values.version });
    const dest = join(outDir, `cpython-3.${r.minor}.patch`);
    if (values.check) {
      let current = null;
      try {
        current = readFileSync(dest, 'utf8');
      } catch {
        /* missing counts as stale */
      }
      const same = current === r.patch;
      if (!same) stale++;
      process.stdout.write(`${same ? 'up to date' : 'STALE'}: ${dest} (from ${r.version})\n`);
      continue;
    }
    writeAtomically(dest, r.patch);
    process.stdout.write(`wrote ${dest} from CPython ${r.version}: ${r.plan.map((p) => `${p.hook}@${p.index + 1}`).join(' ')}\n`);
  }
  return stale ? 1 : 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  if (err instanceof PatchGenError) {
    process.stderr.write(`make-patches: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
    process.exitCode = 3;
  } else throw err;
}
