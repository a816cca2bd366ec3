// A thread without a name and a range in NVTX's default domain are called the same in every output:
// the JSON report (held-up ranges and slowest operations), the text, the HTML timeline and Perfetto.
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { globalTid } from '../../test-support/generate-trace.mjs';
import { analyzeTrace } from '../../lib/report/analyze.js';
import { formatHtml } from '../../lib/report/format-html.js';
import { writePerfettoEvents } from '../../lib/report/format-perfetto.js';
import { formatText } from '../../lib/report/format-text.js';
import { loadTrace } from '../../lib/report/load.js';
import { DEFAULT_DOMAIN_NAME } from '../../lib/report/model.js';
import { NsysEventType } from '../../lib/nsys/export-schema.js';
import { fixture } from './helpers.js';

describe('names of unnamed threads and of the default domain', () => {
  it('are the same in the report, the text, the HTML timeline and Perfetto', async () => {
    const t = fixture('names');
    // Two `job` ranges in the default domain (id 0) on a Node thread that has no ThreadNames row: one
    // around the planted hold, one short one before it (a repeated name, so a slowest operation).
    const tid = t.nodePid + 7;
    const db = new Database(t.path);
    const insert = db.prepare('INSERT INTO NVTX_EVENTS (start, end, eventType, text, globalTid, domainId) VALUES (?, ?, ?, ?, ?, 0)');
    insert.run(t.planted!.start - 1_000, t.planted!.end + 1_000, NsysEventType.pushPop, 'job', globalTid(t.nodePid, tid));
    insert.run(1_000, 2_000, NsysEventType.pushPop, 'job', globalTid(t.nodePid, tid));
    db.close();

    const trace = await loadTrace(t.path);
    try {
      const report = analyzeTrace(trace, { top: 3 });
      const inFlight = report.blame[0]!.concurrentRanges.find((r) => r.name === 'job');
      const slowest = report.slowRanges.find((r) => r.name === 'job');
      const unnamed = `thread ${tid}`;
      expect(inFlight).toMatchObject({ domain: DEFAULT_DOMAIN_NAME, thread: { tid, name: unnamed } });
      expect(slowest).toMatchObject({ domain: DEFAULT_DOMAIN_NAME, thread: { tid, name: unnamed } });

      const text = formatText(report);
      expect(text).toContain(`${DEFAULT_DOMAIN_NAME}:job [node pid ${t.nodePid}, ${unnamed} (tid ${tid})]`);
      expect(text).toMatch(new RegExp(`${DEFAULT_DOMAIN_NAME.replace(/[()]/g, '\\$&')}:job in node`));

      const html = formatHtml(trace, report);
      expect(html).toContain(`"${DEFAULT_DOMAIN_NAME}:job"`);
      expect(html).toContain(`"name":"${unnamed}"`);

      let json = '';
      writePerfettoEvents(trace, { write: (s) => (json += s) });
      const events = (JSON.parse(json) as { traceEvents: { ph: string; name: string; cat?: string; tid: number; args?: { name?: string } }[] }).traceEvents;
      expect(events.filter((e) => e.name === 'job' && e.ph === 'b').map((e) => e.cat)).toEqual([DEFAULT_DOMAIN_NAME, DEFAULT_DOMAIN_NAME]);
      expect(events.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.tid === tid)?.args?.name).toBe(unnamed);
    } finally {
      trace.close();
    }
  });
});
