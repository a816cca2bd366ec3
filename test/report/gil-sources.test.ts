// The report's GIL sources: the patch's 'CPython GIL' domain and nsys 2024.2's own 'GIL Trace' domain
// (the same two messages, no payload, no drop marks). A synthetic trace is rewritten into each shape,
// and into one that holds both, as a patched interpreter under `--trace=python-gil,nvtx` does.
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GilNvtxError } from '../../lib/errors.js';
import { analyzeTrace } from '../../lib/report/analyze.js';
import { formatHtml } from '../../lib/report/format-html.js';
import { formatText } from '../../lib/report/format-text.js';
import { writePerfetto } from '../../lib/report/format-perfetto.js';
import { parseGilSource, type GilSourceRequest } from '../../lib/report/gil-sources.js';
import { loadTrace } from '../../lib/report/load.js';
import type { Report } from '../../lib/report/types.js';
import { fixture, scratch } from './helpers.js';

const CLI = join(import.meta.dirname, '../../bin/gil-nvtx.js');
const PID_SQL = '((globalTid >> 24) & 16777215)';
const PYTHON_PID = 4242;

/** The fixture's GIL rows as nsys's tracer writes them: domain 'GIL Trace', no payload, no drop marks. */
function asNsysOnly(path: string): string {
  const db = new Database(path);
  db.exec(`
    UPDATE NVTX_EVENTS SET text = 'GIL Trace' WHERE eventType = 75 AND text = 'CPython GIL';
    DELETE FROM NVTX_EVENTS WHERE eventType = 34 AND textId = (SELECT id FROM StringIds WHERE value = 'GIL drop request');
    UPDATE NVTX_EVENTS SET uint64Value = NULL, int64Value = NULL WHERE domainId = 1 AND ${PID_SQL} = ${PYTHON_PID};`);
  db.close();
  return path;
}

/** A copy of the fixture's GIL ranges in a second domain 'GIL Trace' of the same process. */
function withBothSources(path: string): { path: string; copied: number } {
  const db = new Database(path);
  db.exec(`
    INSERT INTO NVTX_EVENTS (start, end, eventType, text, globalTid, domainId)
      SELECT start - 1, NULL, 75, 'GIL Trace', globalTid, 7 FROM NVTX_EVENTS WHERE eventType = 75 AND text = 'CPython GIL';
    INSERT INTO NVTX_EVENTS (start, end, eventType, textId, text, globalTid, domainId)
      SELECT start, end, 59, textId, text, globalTid, 7 FROM NVTX_EVENTS
      WHERE eventType IN (59, 60) AND domainId = 1 AND ${PID_SQL} = ${PYTHON_PID};`);
  const copied = db.prepare('SELECT count(*) FROM NVTX_EVENTS WHERE domainId = 7 AND eventType = 59').pluck().get() as number;
  db.close();
  return { path, copied };
}

async function reportWith(path: string, gilSource: GilSourceRequest = 'auto'): Promise<{ report: Report; html: string; perfettoHolds: number }> {
  const trace = await loadTrace(path, { gilSource });
  try {
    const report = analyzeTrace(trace, { top: 3 });
    const out = join(scratch(), 'p.json');
    writePerfetto(trace, out);
    const events = JSON.parse(readFileSync(out, 'utf8')).traceEvents as { ph: string; name: string }[];
    return { report, html: formatHtml(trace, report), perfettoHolds: events.filter((e) => e.ph === 'X' && e.name === 'Holding GIL').length };
  } finally {
    trace.close();
  }
}

describe('GIL sources', () => {
  const base = fixture('sources', { holds: 200, threads: 4 });

  it('reads nsys\u2019s own GIL trace and says what it does not record', async () => {
    const path = join(scratch(), 'nsys-only.sqlite');
    copyFileSync(base.path, path);
    const { report, html, perfettoHolds } = await reportWith(asNsysOnly(path));
    const patch = (await reportWith(base.path)).report;
    expect(report.gilSource!.id).toBe('nsys');
    expect(report.gilSource!.domain).toBe('GIL Trace');
    expect(report.gilSource!.carries).toEqual({ interpreterId: false, dropRequests: false, unblockedWaits: false });
    expect(report.gilSource!.others).toEqual([]);
    // Every analysis runs on it: validation, statistics, blame, slow operations, HTML, Perfetto.
    expect(report.validation.ok).toBe(true);
    expect(report.gils[0]!.holds.count).toBe(patch.gils[0]!.holds.count);
    expect(report.blame[0]!.durationNs).toBe(patch.blame[0]!.durationNs);
    expect(report.blame[0]!.waiters.length).toBeGreaterThan(0);
    expect(report.slowRanges.map((r) => r.name)).toEqual(patch.slowRanges.map((r) => r.name));
    expect(perfettoHolds).toBe(patch.gils[0]!.holds.count + (patch.validation.notes.some((n) => n.kind.endsWith('hold')) ? 1 : 0));
    expect(html).toContain('nsys --trace=python-gil (NVTX domain &#39;GIL Trace&#39;)');
    const text = formatText(report);
    expect(text).toMatch(/GIL ranges from nsys --trace=python-gil \(NVTX domain 'GIL Trace'\); not recorded by this source:/);
    expect(text).toMatch(/not recorded by this source:\n.*\n\s+- drop requests: forced switches are unknown, not zero\n/);
    expect(text).toMatch(/forced switches \(drop requests\): not recorded;/);
    expect(text).toMatch(/\(pid 4242, interpreter not recorded\)/);
  });

  it('analyses one source of a trace that has both, without counting a hold twice', async () => {
    const path = join(scratch(), 'both.sqlite');
    copyFileSync(base.path, path);
    const { copied } = withBothSources(path);
    const patchOnly = (await reportWith(base.path)).report;
    for (const [wanted, id, other] of [['auto', 'patch', 'nsys'], ['patch', 'patch', 'nsys'], ['nsys', 'nsys', 'patch']] as const) {
      const { report, perfettoHolds } = await reportWith(path, wanted);
      expect(report.gilSource!.id).toBe(id);
      expect(report.gilSource!.others.map((o) => o.id)).toEqual([other]);
      // The same holds once, not twice: no overlaps, the counts and the longest hold of the patch alone.
      expect(report.validation.violationCount).toBe(0);
      expect(report.gils).toHaveLength(1);
      expect(report.gils[0]!.holds.count).toBe(patchOnly.gils[0]!.holds.count);
      expect(report.blame.map((b) => [b.thread.tid, b.durationNs])).toEqual(patchOnly.blame.map((b) => [b.thread.tid, b.durationNs]));
      expect(perfettoHolds).toBeLessThanOrEqual(patchOnly.gils[0]!.holds.count + 1);
      // The other source's ranges are not "other NVTX ranges" either.
      const domains = [...report.blame.flatMap((b) => b.concurrentRanges.map((c) => c.domain)), ...report.slowRanges.map((r) => r.domain)];
      expect(domains).not.toContain('GIL Trace');
      expect(domains).not.toContain('CPython GIL');
    }
    const auto = (await reportWith(path)).report;
    expect(auto.gilSource!.others[0]!.ranges).toBe(copied);
    expect(formatText(auto)).toContain(`also in this trace: ${copied} ranges from nsys --trace=python-gil (NVTX domain 'GIL Trace'), not counted here; \`--gil-source nsys\` analyses them`);
  });

  it('refuses a source the trace does not have, and an unknown --gil-source, in one line', async () => {
    let err: unknown;
    try {
      (await loadTrace(base.path, { gilSource: 'nsys' })).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GilNvtxError);
    expect((err as GilNvtxError).message).toMatch(/has no 'GIL Trace' NVTX domain/);
    expect((err as GilNvtxError).exitCode).toBe(3);
    expect(() => parseGilSource('both')).toThrow(/--gil-source wants one of auto, patch, nsys, not 'both'/);
    for (const [args, code, message] of [
      [[base.path, '--gil-source', 'nsys'], 3, /has no 'GIL Trace' NVTX domain/],
      [[base.path, '--gil-source', 'both'], 2, /--gil-source wants one of/],
      [[base.path, '--nsys', '/nonexistent/nsys'], 2, /--nsys \/nonexistent\/nsys: not an executable file/],
    ] as const) {
      const r = spawnSync(process.execPath, [CLI, 'report', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      expect(r.status).toBe(code);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('names both GIL domains when a trace has neither', async () => {
    const path = join(scratch(), 'none.sqlite');
    copyFileSync(base.path, path);
    const db = new Database(path);
    db.exec("UPDATE NVTX_EVENTS SET text = 'something else' WHERE eventType = 75 AND text = 'CPython GIL'");
    db.close();
    await expect(loadTrace(path)).rejects.toThrow(/has no 'CPython GIL' NVTX domain \(nor the 'GIL Trace' domain of nsys --trace=python-gil\)/);
  });
});
