import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, scratch } from './helpers.js';

// Rows no instrumentation writes (an edited or damaged export) are counted as bad rows and left out:
// never negative durations, NaN totals, or an unended hold "overlapping" every later one.
const CLI = join(import.meta.dirname, '../../bin/gil-nvtx.js');
const report = (path: string, ...args: string[]) => spawnSync(process.execPath, [CLI, 'report', '--quiet', ...args, path], { encoding: 'utf8', env: { ...process.env, CI: '', NO_COLOR: '1' } });

/** Every number in a JSON value, with its path. */
function numbers(v: unknown, path = '$', out: [string, unknown][] = []): [string, unknown][] {
  if (typeof v === 'number') out.push([path, v]);
  else if (Array.isArray(v)) v.forEach((x, i) => numbers(x, `${path}[${i}]`, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) numbers(x, `${path}.${k}`, out);
  return out;
}

describe('bad GIL rows', () => {
  it('end < start, NULL and text timestamps, NULL thread ids, unended holds mid-thread: counted, left out, exit 5', () => {
    const g = fixture('bad-rows', { holds: 400 });
    const clean = JSON.parse(report(g.path, '--json').stdout);
    const db = new Database(g.path);
    const rows = (message: string) =>
      db.prepare(`SELECT e.rowid AS id, e.globalTid AS gt FROM NVTX_EVENTS e JOIN StringIds s ON s.id = e.textId WHERE s.value = ? AND e.end IS NOT NULL ORDER BY e.start`).all(message) as { id: number; gt: number }[];
    const holds = rows('Holding GIL');
    const waits = rows('Waiting for GIL');
    const set = (sql: string, ids: number[]) => {
      for (const id of ids) db.prepare(`UPDATE NVTX_EVENTS SET ${sql} WHERE rowid = ?`).run(id);
    };
    // Early rows, so every damaged hold has later holds on its thread.
    set('end = start - 1000', [holds[1]!.id, holds[2]!.id, holds[3]!.id]);
    set("start = 'soon'", [holds[5]!.id, holds[6]!.id]);
    set("end = 'later'", [waits[4]!.id]);
    set('globalTid = NULL', [holds[8]!.id, holds[9]!.id]);
    set('end = NULL', holds.slice(12, 18).map((h) => h.id));
    db.close();

    const r = report(g.path, '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(5);
    const got = JSON.parse(r.stdout);
    expect(got.validation.badRows).toEqual({ badTimestamp: 3, endBeforeStart: 3, noThread: 2, unendedBeforeLast: 6 });
    // The six unended holds are bad rows, not hundreds of overlaps.
    expect(got.validation.ok).toBe(true);
    expect(got.validation.violationCount).toBe(0);
    const [gil] = got.gils;
    const [cleanGil] = clean.gils;
    expect(gil.holds.count).toBe(cleanGil.holds.count - 13);
    expect(gil.waits.count).toBe(cleanGil.waits.count - 1);
    for (const [path, n] of numbers(got)) {
      expect(Number.isFinite(n), path).toBe(true);
      if (/Ns$|count$/.test(path)) expect(n as number, path).toBeGreaterThanOrEqual(0);
    }

    const text = report(g.path);
    expect(text.status).toBe(5);
    expect(text.stdout).toContain("⚠ 14 bad GIL rows left out (3 ending before they start, 3 with a NULL or non-numeric timestamp, 2 without a thread id, 6 without an end that are not their thread's last)");
    expect(text.stdout).toContain('✓ valid');
    expect(text.stdout).not.toMatch(/NaN|-\d+(\.\d+)? ?[mµn]?s\b/);
    const page = join(scratch(), 'report.html');
    expect(report(g.path, '--html', page).status).toBe(5);
    expect(readFileSync(page, 'utf8')).toContain('⚠ 14 bad GIL rows left out (3 ending before they start,');
  });
});
