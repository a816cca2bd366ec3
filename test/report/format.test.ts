import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeTrace } from '../../lib/report/analyze.js';
import { formatHtml, scriptJson } from '../../lib/report/format-html.js';
import { formatJson } from '../../lib/report/format-json.js';
import { writePerfetto } from '../../lib/report/format-perfetto.js';
import { formatText, wantColor } from '../../lib/report/format-text.js';
import { loadTrace } from '../../lib/report/load.js';
import { GilEventKind } from '../../lib/report/model.js';
import { fixture, scratch } from './helpers.js';

async function loaded(name: string, opts: Parameters<typeof fixture>[1] = {}) {
  const g = fixture(name, opts);
  const trace = await loadTrace(g.path);
  return { g, trace, report: analyzeTrace(trace, { top: 3 }) };
}

describe('output formats', () => {
  it('JSON stays valid whatever bytes names hold (invalid UTF-8, NUL, lone surrogates, quotes)', async () => {
    const { trace, report } = await loaded('weird', { badNames: true });
    const text = formatJson(report);
    const back = JSON.parse(text);
    expect(back.schema).toBe('gil-nvtx.report/2');
    const names: string[] = back.gils[0].threads.map((t: { thread: { name: string } }) => t.thread.name);
    expect(names).toContain('<script>alert(1)</script>');
    const weird = names.find((n) => n.startsWith('A'))!;
    expect(weird).toContain('\u0000');
    expect(weird).toContain('"\\');
    // Every string round-trips through a strict UTF-8 encoder once serialised.
    expect(() => new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(text, 'utf8'))).not.toThrow();
    // A lone surrogate in a name still gives parseable JSON.
    expect(JSON.parse(formatJson({ ...report, source: 'x\ud800y' })).source).toBe('x\ud800y');
    trace.close();
  });

  it('text: colour only when asked, control characters from the trace escaped', async () => {
    const { trace, report } = await loaded('text', { badNames: true });
    const plain = formatText(report, { color: false });
    expect(plain).not.toMatch(/\u001b\[/);
    expect(plain).toMatch(/✓ valid/);
    expect(plain).toMatch(/#1 200\.0 ms by/);
    expect(plain).toMatch(/fdatasync/);
    expect(plain).toMatch(/node:request \/predict/);
    expect(plain).toContain('\\x00');
    expect(plain).not.toContain('\u0000');
    expect(formatText(report, { color: true })).toMatch(/\u001b\[1m/);
    expect(wantColor({ isTTY: true }, {})).toBe(true);
    expect(wantColor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(wantColor({ isTTY: false }, {})).toBe(false);
    trace.close();
  });

  it('Perfetto: named processes and threads, GIL slices and lanes, drop-request instants, other ranges as async slices', async () => {
    const { g, trace } = await loaded('perfetto', { openFinalHold: true });
    const out = join(scratch(), 'trace.json');
    const n = writePerfetto(trace, out);
    const doc = JSON.parse(readFileSync(out, 'utf8'));
    expect(doc.traceEvents).toHaveLength(n);
    const ev = doc.traceEvents as { ph: string; name: string; pid: number; tid: number; ts: number; dur?: number; args?: { name?: string; open?: boolean }; cat?: string; id?: string }[];
    expect(ev.find((e) => e.ph === 'M' && e.name === 'process_name' && e.pid === g.pid)?.args?.name).toBe('python3');
    expect(ev.find((e) => e.ph === 'M' && e.name === 'process_name' && e.pid === g.nodePid)?.args?.name).toBe('node');
    expect(ev.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'worker-1')).toHaveLength(1);
    const holds = ev.filter((e) => e.ph === 'X' && e.name === 'Holding GIL');
    const waits = ev.filter((e) => e.ph === 'X' && e.name === 'Waiting for GIL');
    expect(holds).toHaveLength(g.holds);
    expect(waits).toHaveLength(g.holds);
    expect(holds.filter((h) => h.args?.open)).toHaveLength(1);
    const lane = ev.find((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'GIL (interpreter 0)')!;
    expect(ev.filter((e) => e.ph === 'X' && e.tid === lane.tid && e.name.startsWith('held by '))).toHaveLength(g.holds);
    const longest = holds.reduce((a, b) => (b.dur! > a.dur! && !b.args?.open ? b : a));
    expect(longest.dur).toBeCloseTo(200_000, 3);
    expect(ev.filter((e) => e.ph === 'i' && e.name === 'GIL drop request').length).toBeGreaterThan(0);
    const req = ev.filter((e) => e.name === 'request /predict');
    expect(req.map((e) => e.ph).sort()).toEqual(['b', 'e']);
    expect(req[0]!.cat).toBe('node');
    expect(req[0]!.pid).toBe(g.nodePid);
    // Slices on one thread never cross: each thread's X events are disjoint or nested.
    const byTid = new Map<string, { ts: number; end: number }[]>();
    for (const e of ev.filter((x) => x.ph === 'X')) {
      const k = `${e.pid}/${e.tid}`;
      byTid.set(k, [...(byTid.get(k) ?? []), { ts: e.ts, end: e.ts + e.dur! }]);
    }
    for (const list of byTid.values()) {
      list.sort((a, b) => a.ts - b.ts);
      for (let i = 1; i < list.length; i++) expect(list[i]!.ts).toBeGreaterThanOrEqual(list[i - 1]!.end - 1e-6);
    }
    trace.close();
  });

  it('Perfetto also exports a trace without any GIL ranges (a Node-only trace) when asked to', async () => {
    const g = fixture('nogil-perfetto');
    const db = new Database(g.path);
    db.exec("DELETE FROM NVTX_EVENTS WHERE domainId = 1 AND ((globalTid >> 24) & 16777215) = " + g.pid);
    db.close();
    await expect(loadTrace(g.path)).rejects.toThrow(/no 'CPython GIL' NVTX domain/);
    const trace = await loadTrace(g.path, { requireGil: false });
    expect(trace.gils).toHaveLength(0);
    const out = join(scratch(), 'nogil.json');
    writePerfetto(trace, out);
    const ev = JSON.parse(readFileSync(out, 'utf8')).traceEvents as { name: string; ph: string }[];
    expect(ev.filter((e) => e.name === 'request /predict').map((e) => e.ph).sort()).toEqual(['b', 'e']);
    trace.close();
  });

  it('HTML: names escaped, data block cannot end the script element, no external resources', async () => {
    const { trace, report } = await loaded('html', { badNames: true });
    const html = formatHtml(trace, report);
    expect(html).not.toContain('<script>alert(1)</script>');
    expect(html).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(html).toContain("default-src 'none'");
    expect(scriptJson({ a: '</script><!--\u2028' })).not.toMatch(/<|>|\u2028/);
    expect(JSON.parse(scriptJson({ a: '</script>&' })).a).toBe('</script>&');
    trace.close();
  });

  it('HTML keeps big traces small: shortest ranges dropped first, blamed holds always kept', async () => {
    const { trace, report } = await loaded('big-html', { holds: 2000 });
    const html = formatHtml(trace, report, { maxRanges: 500 });
    const data = JSON.parse(html.match(/<script type="application\/json" id="gil-data">([^<]*)<\/script>/)![1]!);
    expect(data.holds.length + data.waits.length).toBeLessThanOrEqual(503);
    expect(data.shown.of).toBe(4000);
    expect(data.holds.filter((h: number[]) => (h[3]! & 2) !== 0)).toHaveLength(3);
    // Within a kind the budget (250) goes to the longest: every range left out is shorter than every one kept.
    for (const [kind, embedded] of [[GilEventKind.hold, data.holds], [GilEventKind.wait, data.waits]] as const) {
      const plain = (embedded as number[][]).filter((r) => r[3] === 0).map((r) => r[2]! - r[1]!);
      expect(plain.length).toBeLessThanOrEqual(250);
      const all: number[] = [];
      trace.gils[0]!.scan((k, s, e) => k === kind && all.push(e - s));
      const kept = Math.min(...plain);
      expect(all.filter((d) => d >= kept).length).toBe(plain.length + (embedded as number[][]).filter((r) => r[3] !== 0 && r[2]! - r[1]! >= kept).length);
    }
    trace.close();
  });
});
