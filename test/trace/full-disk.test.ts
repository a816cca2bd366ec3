import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { smallFs } from '../helpers/small-fs.js';
import { fixture } from '../report/helpers.js';
import { ensureCollector, ensureEventsProgram, queryAll, scratchDir } from './helpers.js';

// A disk that fills during the trace: the collector stops writing and counts what it drops, the merge
// fails with one line and keeps the raw files, a merge elsewhere works, and the report says the trace
// is incomplete.
const CLI = join(import.meta.dirname, '../../bin/gil-nvtx.js');
const PAIRS = 3_000_000; // 6 M events: about 100 MB of raw file, far more than the 3 MB disk
let program: string;
let collector: string;
beforeAll(() => {
  collector = ensureCollector();
  program = ensureEventsProgram();
}, 300_000);

const gilNvtx = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, CI: '', GIL_NVTX_COLLECTOR: collector }, timeout: 300_000 });

describe('a full disk', () => {
  it('trace: the merge fails with one line and keeps the raw files; merge -o elsewhere counts every dropped event', () => {
    const fs = smallFs(3 * 1024 * 1024);
    try {
      const dir = join(fs.dir, 'trace');
      const r = gilNvtx('trace', '-o', dir, '--', program, 'pairs', String(PAIRS));
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^gil-nvtx trace: Merging into .*trace\.sqlite failed: the disk is full \(SQLITE_FULL\); nothing was written\.$/m);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(readdirSync(dir).filter((n) => n !== 'raw')).toEqual([]);
      expect(readdirSync(join(dir, 'raw')).some((n) => n.endsWith('.gnvtx'))).toBe(true);

      const elsewhere = join(scratchDir('full-disk-merge'), 'trace.sqlite');
      const m = gilNvtx('merge', dir, '-o', elsewhere);
      expect(m.stderr).toMatch(/gil-nvtx merge: \d+ event\(s\) dropped: the trace file could not grow \(disk full\?\)/);
      expect(m.status).toBe(0);
      const { dropped } = queryAll<{ dropped: number }>(elsewhere, 'SELECT total(droppedEvents) AS dropped FROM GILNVTX_PROCESSES')[0]!;
      const { pairs } = queryAll<{ pairs: number }>(elsewhere, "SELECT count(*) AS pairs FROM NVTX_EVENTS e JOIN StringIds s ON s.id = e.textId WHERE e.eventType = 59 AND s.value = 'pair'")[0]!;
      // Every push and pop is either in the trace or counted as dropped.
      expect(pairs).toBeGreaterThan(0);
      expect(dropped + 2 * pairs).toBeGreaterThanOrEqual(2 * PAIRS);
      expect(existsSync(join(dir, 'raw'))).toBe(false);
    } finally {
      fs.dispose();
    }
  });

  it('report on a trace with dropped events: a warning, exit 5, droppedEvents in the JSON', () => {
    const g = fixture('dropped');
    const db = new Database(g.path);
    db.exec("CREATE TABLE GILNVTX_META (key TEXT NOT NULL PRIMARY KEY, value TEXT); INSERT INTO GILNVTX_META VALUES ('droppedEvents', '42');");
    db.close();
    const text = gilNvtx('report', '--quiet', g.path);
    expect(text.status).toBe(5);
    expect(text.stdout).toContain('⚠ INCOMPLETE: 42 NVTX events were dropped while recording');
    const json = gilNvtx('report', '--quiet', '--json', g.path);
    expect(json.status).toBe(5);
    expect(JSON.parse(json.stdout).trace.droppedEvents).toBe(42);
  });
});
