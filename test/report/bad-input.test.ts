import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GilNvtxError } from '../../lib/errors.js';
import { loadTrace } from '../../lib/report/load.js';
import { fixture, scratch } from './helpers.js';

const CLI = join(import.meta.dirname, '../../bin/gil-nvtx.js');

async function loadError(path: string, env?: NodeJS.ProcessEnv): Promise<GilNvtxError> {
  try {
    const t = await loadTrace(path, { env });
    t.close();
  } catch (err) {
    expect(err).toBeInstanceOf(GilNvtxError);
    return err as GilNvtxError;
  }
  throw new Error(`loading ${path} did not fail`);
}

function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [CLI, 'report', ...args], { encoding: 'utf8', env: { ...env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function noStack(stderr: string): void {
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/SqliteError|TypeError|RangeError/);
}

describe('bad input gives a clear error, never a stack trace', () => {
  const dir = scratch();

  it('a missing file', async () => {
    expect((await loadError(join(dir, 'nope.sqlite'))).message).toMatch(/does not exist/);
  });

  it('a file that is not a database', async () => {
    const p = join(dir, 'text.sqlite');
    writeFileSync(p, 'hello, this is not SQLite\n'.repeat(10));
    expect((await loadError(p)).message).toMatch(/not an SQLite database/);
    const r = cli([p]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not an SQLite database/);
    noStack(r.stderr);
  });

  it('an empty file', async () => {
    const p = join(dir, 'empty.sqlite');
    writeFileSync(p, '');
    expect((await loadError(p)).message).toMatch(/is empty/);
  });

  it('a truncated export', async () => {
    const g = fixture('truncated');
    const bytes = readFileSync(g.path);
    const p = join(dir, 'truncated.sqlite');
    writeFileSync(p, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect((await loadError(p)).message).toMatch(/truncated/);
    const r = cli([p]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/truncated/);
    noStack(r.stderr);
  });

  it('a damaged page in the middle (header intact)', async () => {
    const g = fixture('damaged');
    const bytes = readFileSync(g.path);
    // Overwrite interior pages with garbage, keeping the 100-byte header and the file size.
    bytes.fill(0xa5, 8192, bytes.length - 8192);
    const p = join(dir, 'damaged.sqlite');
    writeFileSync(p, bytes);
    const err = await loadError(p);
    expect(err.message).toMatch(/damaged|not an SQLite|malformed|no NVTX_EVENTS|no 'CPython GIL'/);
    const r = cli([p]);
    expect(r.code).not.toBe(0);
    noStack(r.stderr);
  });

  it('a database without NVTX_EVENTS', async () => {
    const p = join(dir, 'other.sqlite');
    const db = new Database(p);
    db.exec('CREATE TABLE t (x)');
    db.close();
    expect((await loadError(p)).message).toMatch(/no NVTX_EVENTS table/);
  });

  it('a database without StringIds', async () => {
    const g = fixture('nostrings');
    const db = new Database(g.path);
    db.exec('DROP TABLE StringIds');
    db.close();
    expect((await loadError(g.path)).message).toMatch(/no StringIds table/);
  });

  it('a trace without the CPython GIL domain says why (not patched, or PYTHON_GIL_NVTX=0)', async () => {
    const g = fixture('nogil');
    const db = new Database(g.path);
    db.exec("DELETE FROM NVTX_EVENTS WHERE eventType = 75 AND text = 'CPython GIL'");
    db.close();
    const err = await loadError(g.path);
    expect(err.message).toMatch(/no 'CPython GIL' NVTX domain/);
    expect(err.message).toMatch(/"node"/);
    expect(err.hint).toMatch(/not a GIL-instrumented build/);
    expect(err.hint).toMatch(/PYTHON_GIL_NVTX=0/);
    const r = cli([g.path]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/PYTHON_GIL_NVTX=0/);
    noStack(r.stderr);
  });

  it('a GIL domain without a single GIL range', async () => {
    const g = fixture('emptygil');
    const db = new Database(g.path);
    db.exec('DELETE FROM NVTX_EVENTS WHERE eventType IN (34, 59, 60) AND domainId = 1 AND text IS NULL');
    db.close();
    const err = await loadError(g.path);
    expect(err.message).toMatch(/not a single 'Waiting for GIL'/);
    expect(err.hint).toMatch(/PYTHON_GIL_NVTX=0/);
    expect(err.exitCode).toBe(3);
  });

  it('a trace with no NVTX events at all', async () => {
    const g = fixture('nonvtx');
    const db = new Database(g.path);
    db.exec('DELETE FROM NVTX_EVENTS');
    db.close();
    const err = await loadError(g.path);
    expect(err.message).toMatch(/no NVTX events at all/);
  });

  it('a folder that is not a trace folder', async () => {
    const d = join(dir, 'folder');
    mkdirSync(d);
    expect((await loadError(d)).message).toMatch(/without trace.sqlite/);
  });

  it('a .nsys-rep when nsys is not installed', async () => {
    const p = join(dir, 'x.nsys-rep');
    writeFileSync(p, 'not really');
    const err = await loadError(p, { PATH: '/nonexistent' });
    expect(err.message).toMatch(/nsys .*not found/);
  });

  it('bad options', () => {
    const r = cli(['--top', 'many', 'x.sqlite']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--top/);
    const none = cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no trace given/);
    noStack(none.stderr);
  });

  it('a failed --html write leaves no file behind', () => {
    const g = fixture('htmlfail');
    const target = join(dir, 'missing-dir', 'out.html');
    const r = cli([g.path, '--html', target]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/cannot write/);
    noStack(r.stderr);
  });
});
