// `--html FILE`: one self-contained page (inline CSS and JS, no network: a CSP forbids it) with a
// timeline — one lane per thread, waits and holds coloured, the blamed holds marked — that zooms
// (wheel, +/−) and pans (drag, arrows), above the text of the report.
// Trace names are untrusted: the page builds every name with textContent or esc(), and the embedded data
// is JSON with <, >, & and U+2028/9 escaped, so nothing from the trace can close the script element.
import { forcedSwitchesText, gilSourceLines, interpreterText } from './format-source.js';
import { eventLoopText } from './event-loop.js';
import { servedBySentence } from './served-by.js';
import { HOLDING_MESSAGE, WAITING_MESSAGE } from '../gil-contract.js';
import { formatLocation } from './locations.js';
import { decodeContextPayload } from '../nvtx/context-payload.js';
import { GilEventKind, domainNameOf, threadNameOf, type LoadedTrace } from './model.js';
import { hasColumns, nvtxTextSql } from './schema.js';
import { DurationHistogram, bucketFloor, durationBucket } from './stats.js';
import type { Report } from './types.js';
import { fmtAt, fmtDuration, fmtPercent } from './units.js';
import { incompleteWarnings } from './warnings.js';
import { NsysEventType, pidOf, tidOf } from '../nsys/export-schema.js';

export interface HtmlOptions {
  /** About this many waits + holds are embedded, half each; shorter ones are dropped first (default 40,000). */
  maxRanges?: number;
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that is safe inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

interface TimelineData {
  traceStartNs: number;
  traceEndNs: number;
  lanes: { pid: number; tid: number; name: string; process: string; gil: string }[];
  /** [lane, start, end, flags] with flags 1 = open at trace end, 2 = blamed (long) hold; times relative to trace start. */
  holds: [number, number, number, number][];
  waits: [number, number, number, number][];
  drops: [number, number][];
  blamed: { rank: number; lane: number; start: number; end: number; label: string }[];
  /** Other NVTX ranges (a Node request, say) on lanes of their own: [lane, start, end, name index, depth in its request's tree]. */
  others: [number, number, number, number, number][];
  otherNames: string[];
  shown: { ranges: number; of: number; minHoldNs: number; minWaitNs: number };
}

function timelineData(trace: LoadedTrace, report: Report, maxRanges: number): TimelineData {
  const t0 = trace.traceStart;
  const budget = Math.floor(maxRanges / 2);
  let holdCount = 0;
  let waitCount = 0;
  for (const g of trace.gils) {
    holdCount += g.counts.holds;
    waitCount += g.counts.waits;
  }
  // Holds and waits get half the budget each (waits are usually longer and would crowd holds out);
  // within a kind the shortest go first. Scan 1 finds each GIL's threads and, when a kind is over
  // budget, its duration histogram; scan 2 embeds what clears the cut. The cut is a histogram bucket, so
  // at most `budget` ranges of a kind clear it, without every duration in memory at once.
  const holdHist = holdCount > budget ? new DurationHistogram() : null;
  const waitHist = waitCount > budget ? new DurationHistogram() : null;
  const laneOf = new Map<string, number>();
  const lanes: TimelineData['lanes'] = [];
  for (const gil of trace.gils) {
    const seen = new Set<number>();
    gil.scan((kind, s, e, t) => {
      if (kind === GilEventKind.drop) return;
      seen.add(t);
      (kind === GilEventKind.hold ? holdHist : waitHist)?.add(e - s);
    });
    for (const t of [...seen].sort((a, b) => trace.threads[a]!.tid - trace.threads[b]!.tid)) {
      const th = trace.threads[t]!;
      laneOf.set(`${gil.key}#${t}`, lanes.length);
      lanes.push({ pid: th.pid, tid: th.tid, name: th.name, process: trace.processes.get(th.pid)?.name ?? `pid ${th.pid}`, gil: gil.key });
    }
  }
  /** The lowest bucket whose durations and all longer ones fit the budget (0: everything fits). */
  const cutBucket = (hist: DurationHistogram | null): number => {
    if (!hist) return 0;
    let above = 0;
    let b = hist.top;
    while (b > 0 && above + hist.counts[b - 1]! <= budget) above += hist.counts[--b]!;
    return b;
  };
  const holdCut = cutBucket(holdHist);
  const waitCut = cutBucket(waitHist);
  const blamedKey = new Set(report.blame.map((b) => `${b.gil}@${b.startNs}@${b.thread.tid}`));
  const holds: TimelineData['holds'] = [];
  const waits: TimelineData['waits'] = [];
  const drops: TimelineData['drops'] = [];
  for (const g of trace.gils) {
    g.scan((kind, s, e, t, open) => {
      if (kind === GilEventKind.drop) {
        const lane = drops.length < maxRanges ? laneOf.get(`${g.key}#${t}`) : undefined;
        if (lane !== undefined) drops.push([lane, s - t0]);
        return;
      }
      const isHold = kind === GilEventKind.hold;
      const blamed = isHold && blamedKey.has(`${g.key}@${s}@${trace.threads[t]!.tid}`);
      if (durationBucket(e - s) < (isHold ? holdCut : waitCut) && !blamed && !open) return;
      (isHold ? holds : waits).push([laneOf.get(`${g.key}#${t}`)!, s - t0, e - t0, (open ? 1 : 0) | (blamed ? 2 : 0)]);
    });
  }
  const blamed = report.blame.map((b) => {
    const th = trace.threads.find((t) => t.pid === b.pid && t.tid === b.thread.tid);
    return {
      rank: b.rank,
      lane: th ? laneOf.get(`${b.gil}#${th.index}`) ?? 0 : 0,
      start: b.startNs - t0,
      end: b.endNs - t0,
      label: `#${b.rank} ${fmtDuration(b.durationNs)}`,
    };
  });
  const { others, otherNames } = otherRanges(trace, lanes, Math.max(100, Math.floor(maxRanges / 8)));
  return {
    traceStartNs: t0,
    traceEndNs: trace.traceEnd,
    lanes,
    holds,
    waits,
    drops,
    blamed,
    others,
    otherNames,
    shown: { ranges: holds.length + waits.length, of: holdCount + waitCount, minHoldNs: bucketFloor(holdCut), minWaitNs: bucketFloor(waitCut) },
  };
}

/** The longest NVTX ranges outside the GIL domain, each thread that has one on a lane of its own. */
function otherRanges(trace: LoadedTrace, lanes: TimelineData['lanes'], limit: number): { others: TimelineData['others']; otherNames: string[] } {
  const { expr, join } = nvtxTextSql(trace.schema, 'n');
  const payload = hasColumns(trace.schema, 'NVTX_EVENTS', ['uint64Value']) ? 'n.uint64Value' : 'NULL';
  const rows = trace.db
    .prepare(
      `SELECT n.start, COALESCE(n.end, ${Math.trunc(trace.traceEnd)}), n.globalTid, ${expr}, n.domainId, ${payload} FROM NVTX_EVENTS AS n ${join} ` +
        `WHERE n.eventType IN (${NsysEventType.pushPop}, ${NsysEventType.startEnd}) AND ${trace.nonGilRowFilter('n')} ` +
        `ORDER BY COALESCE(n.end, ${Math.trunc(trace.traceEnd)}) - n.start DESC LIMIT ${limit}`,
    )
    .raw(true)
    .all() as [number, number, number, string | null, number | null, number | null][];
  const laneOf = new Map<number, number>();
  // Ranges of one request's tree (lib/nvtx/context-payload.ts) nest: a child is drawn one step inside its parent.
  const depthOf = new Map<string, number>();
  const names = new Map<string, number>();
  const others: TimelineData['others'] = [];
  for (const [start, end, gt, name, domainId, context] of rows.sort((a, b) => a[2] - b[2] || a[0] - b[0])) {
    const ctx = decodeContextPayload(context);
    const depth = ctx ? (ctx.parent === 0 ? 0 : (depthOf.get(`${gt}/${ctx.parent}`) ?? -1) + 1) : 0;
    if (ctx) depthOf.set(`${gt}/${ctx.self}`, depth);
    let lane = laneOf.get(gt);
    if (lane === undefined) {
      const pid = pidOf(gt);
      const tid = tidOf(gt);
      lane = lanes.length;
      laneOf.set(gt, lane);
      lanes.push({ pid, tid, name: threadNameOf(trace.threadNames, gt, pid, tid), process: trace.processNames.get(pid) ?? `pid ${pid}`, gil: '' });
    }
    const label = `${domainNameOf(trace, pidOf(gt), domainId)}:${name ?? ''}`;
    let k = names.get(label);
    if (k === undefined) names.set(label, (k = names.size));
    others.push([lane, start - trace.traceStart, end - trace.traceStart, k, depth]);
  }
  return { others, otherNames: [...names.keys()] };
}

function summaryHtml(report: Report): string {
  const t0 = report.trace.startNs;
  const parts: string[] = [];
  const source = gilSourceLines(report);
  if (source.length) parts.push(`<p class="dim gil-source">${source.map((l) => esc(l.trim())).join('<br>')}</p>`);
  const v = report.validation;
  for (const w of incompleteWarnings(report)) parts.push(`<p class="bad">⚠ ${esc(w)}</p>`);
  parts.push(
    v.ok
      ? `<p class="ok">✓ valid: ${v.checkedHolds} holds checked, no two holds of one GIL overlap.</p>`
      : `<p class="bad">✗ invalid: ${v.violationCount} overlapping holds — the instrumentation is broken; statistics are not trustworthy.</p>` +
          `<ul>${v.violations
            .slice(0, 20)
            .map((x) => `<li>GIL ${esc(x.gil)}: ${esc(x.second.thread.name)} (tid ${x.second.thread.tid}) acquired at ${fmtAt(x.second.startNs, t0)} while ${esc(x.first.thread.name)} (tid ${x.first.thread.tid}) held it (overlap ${fmtDuration(x.overlapNs)})</li>`)
            .join('')}</ul>`,
  );
  if (v.notes.length) parts.push(`<ul class="notes">${v.notes.slice(0, 20).map((n) => `<li>${esc(n.thread.name)} (tid ${n.thread.tid}): ${esc(n.message)}</li>`).join('')}</ul>`);
  for (const g of report.gils) {
    parts.push(
      `<h2>GIL ${esc(g.gil)} — ${esc(g.processName)} (pid ${g.pid}, ${interpreterText(report, g)})</h2>` +
        `<p>span ${fmtDuration(g.spanNs)}; held ${fmtPercent(g.utilisation)}; someone waiting ${fmtPercent(g.contention)}; forced switches ${forcedSwitchesText(report, g)}; handoff p50 ${fmtDuration(g.handoff.p50Ns)}, p99 ${fmtDuration(g.handoff.p99Ns)}</p>` +
        '<table><thead><tr><th>thread</th><th>holds</th><th>held</th><th>p50</th><th>p99</th><th>max</th><th>waits</th><th>waited</th><th>p50</th><th>p99</th><th>max</th><th>drop requests</th></tr></thead><tbody>' +
        g.threads
          .map(
            (t) =>
              `<tr><td>${esc(t.thread.name)} <span class="dim">tid ${t.thread.tid}</span></td><td>${t.holds.count + t.openHolds}</td><td>${fmtDuration(t.holds.totalNs)}</td><td>${fmtDuration(t.holds.p50Ns)}</td><td>${fmtDuration(t.holds.p99Ns)}</td><td>${fmtDuration(t.holds.maxNs)}</td>` +
              `<td>${t.waits.count + t.openWaits}</td><td>${fmtDuration(t.waits.totalNs)}</td><td>${fmtDuration(t.waits.p50Ns)}</td><td>${fmtDuration(t.waits.p99Ns)}</td><td>${fmtDuration(t.waits.maxNs)}</td><td>${t.dropRequests}</td></tr>`,
          )
          .join('') +
        '</tbody></table>',
    );
  }
  parts.push('<h2>Longest holds</h2><ol class="blame">');
  for (const b of report.blame) {
    const cpu = b.holderCpu.state === 'unknown' ? 'holder CPU state unknown' : `holder ${b.holderCpu.state} (${fmtPercent(b.holderCpu.onCpuFraction ?? 0)} on CPU)`;
    const waiters = b.waiters.slice(0, 10).map((w) => `${esc(w.thread.name)} (tid ${w.thread.tid}) waited ${fmtDuration(w.waitNs)}${w.where ? ` in ${esc(formatLocation(w.where))}` : ''}`).join('; ');
    const calls = (list: typeof b.holderOsCalls) => (list === null ? 'unknown' : list.length === 0 ? 'none' : list.slice(0, 6).map((o) => `${esc(o.name)} ${fmtDuration(o.overlapNs)} [${esc(o.thread.name)}]`).join(', '));
    const ranges = b.concurrentRanges.slice(0, 6).map((r) => `${esc(r.domain ? `${r.domain}:` : '')}${esc(r.name)} [${esc(r.processName)}]`).join('; ');
    parts.push(
      `<li data-rank="${b.rank}"><a href="#" class="zoomto" data-rank="${b.rank}">${fmtDuration(b.durationNs)}</a> by <b>${esc(b.thread.name)}</b> (tid ${b.thread.tid}) at ${fmtAt(b.startNs, t0)} — ${esc(cpu)}<br>` +
        (b.where.taken || b.where.released
          ? `where: ${[b.where.taken ? `taken in ${esc(formatLocation(b.where.taken))}` : '', b.where.released ? `released in ${esc(formatLocation(b.where.released))}` : ''].filter(Boolean).join(', ')}<br>`
          : '') +
        (b.why.source !== 'none' ? `why: ${esc(b.why.summary)}<br>` : '') +
        `blocked ${b.waiterCount}: ${waiters || 'nobody'}<br>holder OS calls: ${calls(b.holderOsCalls)}; other threads: ${calls(b.otherOsCalls)}` +
        (ranges ? `<br>in flight: ${ranges}` : '') +
        '</li>',
    );
  }
  parts.push('</ol>');
  if (report.slowRanges.length > 0) {
    parts.push('<h2>Slowest operations outside the GIL</h2><ol class="slow">');
    for (const r of report.slowRanges) {
      parts.push(
        `<li>${fmtDuration(r.durationNs)} <b>${esc(r.domain)}:${esc(r.name)}</b> in ${esc(r.processName)} (pid ${r.pid}) at ${fmtAt(r.startNs, t0)}; median of ${r.instances} is ${fmtDuration(r.medianNs)}<br>` +
          `GIL held ${fmtDuration(r.gilHeldNs)} while it ran${r.eventLoop ? `; ${esc(eventLoopText(r.eventLoop))}` : ''}` +
          (r.servedBy ?? []).map((sb) => `<br><span class="served">${esc(servedBySentence(sb, (w) => formatLocation(w)))}</span>`).join('') +
          '</li>',
      );
    }
    parts.push('</ol>');
  }
  return parts.join('\n');
}

const CSS = `
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{padding:10px 16px;background:#20232a;color:#eee}header h1{font-size:16px;margin:0}
header .dim{color:#aaa}
#controls{padding:6px 16px;display:flex;gap:8px;align-items:center}
#controls button{font:inherit;padding:2px 10px}
#timeline{margin:0 16px;border:1px solid #ccc;background:#fff;overflow:hidden;cursor:grab;user-select:none}
#timeline.dragging{cursor:grabbing}
svg text{font:11px system-ui,sans-serif}
rect.hold{fill:#2e7d32}rect.hold.open{fill:#9e9e9e}rect.wait{fill:#f0a020}
rect.hold.long{fill:#c62828}rect.range{fill:#3f6fb5;fill-opacity:.55;stroke:#24477a;stroke-width:.5}rect.marker{fill:none;stroke:#c62828;stroke-width:2}
line.drop{stroke:#6a1b9a;stroke-width:1}
.lane-label{fill:#333}.lane-bg{fill:#f4f4f4}.axis{fill:#666}
main{padding:0 16px 24px}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}.ok{color:#2e7d32}.bad{color:#c62828;font-weight:bold}.dim{color:#888}
.legend span{display:inline-block;width:12px;height:10px;margin:0 4px 0 10px;vertical-align:middle}
`;

// The page's script: draws only what is visible, merging ranges narrower than a pixel.
const JS = `
(function(){
'use strict';
var data=JSON.parse(document.getElementById('gil-data').textContent);
var NS='http://www.w3.org/2000/svg';
var LABEL=230,LANE=26,AXIS=22;
var box=document.getElementById('timeline');
var end=Math.max(1,data.traceEndNs-data.traceStartNs);
var view={a:0,b:end};
function el(name,attrs,parent){var e=document.createElementNS(NS,name);for(var k in attrs)e.setAttribute(k,attrs[k]);if(parent)parent.appendChild(e);return e;}
function fmt(ns){var a=Math.abs(ns);if(a<1e3)return Math.round(ns)+' ns';if(a<1e6)return (ns/1e3).toFixed(1)+' µs';if(a<1e9)return (ns/1e6).toFixed(2)+' ms';return (ns/1e9).toFixed(3)+' s';}
var svg=el('svg',{id:'tl'},box);
function width(){return Math.max(400,box.clientWidth);}
function draw(){
  var W=width(),H=AXIS+data.lanes.length*LANE+4,plot=W-LABEL,a=view.a,b=view.b,k=plot/(b-a);
  svg.setAttribute('width',W);svg.setAttribute('height',H);
  while(svg.firstChild)svg.removeChild(svg.firstChild);
  var g=el('g',{},svg);
  data.lanes.forEach(function(l,i){
    el('rect',{'class':'lane-bg',x:LABEL,y:AXIS+i*LANE+1,width:plot,height:LANE-2},g);
    var t=el('text',{'class':'lane-label',x:4,y:AXIS+i*LANE+LANE/2+4},g);
    t.textContent=l.name+' ('+l.tid+')';
    var tt=el('title',{},t);tt.textContent=l.process+' pid '+l.pid+(l.gil?', GIL '+l.gil:', other NVTX ranges');
  });
  var step=Math.pow(10,Math.floor(Math.log10((b-a)/6)));if((b-a)/step>12)step*=5;else if((b-a)/step>6)step*=2;
  for(var t=Math.ceil(a/step)*step;t<=b;t+=step){var x=LABEL+(t-a)*k;el('line',{x1:x,x2:x,y1:AXIS-4,y2:H,stroke:'#e0e0e0'},g);var lb=el('text',{'class':'axis',x:x+2,y:12},g);lb.textContent=fmt(t);}
  var counts={hold:0,wait:0};
  function ranges(list,cls,y0,h){
    var last={};
    for(var i=0;i<list.length;i++){var r=list[i];if(r[2]<a||r[1]>b)continue;
      var x=LABEL+Math.max(r[1]-a,0)*k,x2=LABEL+(Math.min(r[2],b)-a)*k,w=x2-x;
      var long=(r[3]&2)!==0;
      if(w<0.5&&!long){var px=Math.floor(x);if(last[r[0]]===px)continue;last[r[0]]=px;w=0.5;}
      var c=cls+((r[3]&1)?' open':'')+(long?' long':'');
      var e=el('rect',{'class':c,x:x,y:AXIS+r[0]*LANE+y0,width:Math.max(w,0.5),height:h},g);
      counts[cls]++;
      if(w>=3){var ti=el('title',{},e);ti.textContent=(cls==='hold'?${JSON.stringify(`${HOLDING_MESSAGE} `)}:${JSON.stringify(`${WAITING_MESSAGE} `)})+fmt(r[2]-r[1])+((r[3]&1)?' (open at trace end)':'');}
    }
  }
  ranges(data.waits,'wait',LANE*0.55,LANE*0.3);
  ranges(data.holds,'hold',3,LANE*0.5);
  var shownOther=0;
  data.others.forEach(function(r){if(r[2]<a||r[1]>b)return;var x=LABEL+Math.max(r[1]-a,0)*k,x2=LABEL+(Math.min(r[2],b)-a)*k;
    var dy=Math.min(r[4],4)*2;var e=el('rect',{'class':'range',x:x,y:AXIS+r[0]*LANE+4+dy,width:Math.max(1,x2-x),height:LANE-8-2*dy},g);shownOther++;
    var ti=el('title',{},e);ti.textContent=data.otherNames[r[3]]+' '+fmt(r[2]-r[1]);
    if(x2-x>60){var t=el('text',{x:x+3,y:AXIS+r[0]*LANE+LANE/2+4,fill:'#fff'},g);t.textContent=data.otherNames[r[3]];}});
  svg.setAttribute('data-ranges',shownOther);
  data.drops.forEach(function(d){if(d[1]<a||d[1]>b)return;var x=LABEL+(d[1]-a)*k;el('line',{'class':'drop',x1:x,x2:x,y1:AXIS+d[0]*LANE+2,y2:AXIS+d[0]*LANE+LANE-2},g);});
  data.blamed.forEach(function(m){if(m.end<a||m.start>b)return;var x=LABEL+Math.max(m.start-a,0)*k,x2=LABEL+(Math.min(m.end,b)-a)*k;
    el('rect',{'class':'marker',x:x-1,y:AXIS+m.lane*LANE,width:Math.max(2,x2-x+2),height:LANE-1},g);
    if(x2-x>80){var t=el('text',{'class':'marker-label',x:x+2,y:AXIS+m.lane*LANE+LANE-4,fill:'#c62828'},g);t.textContent=m.label;}});
  svg.setAttribute('data-holds',counts.hold);svg.setAttribute('data-waits',counts.wait);
  document.getElementById('range').textContent=fmt(a)+' – '+fmt(b)+' (window '+fmt(b-a)+')';
}
function zoom(f,cx){var w=view.b-view.a,c=cx===undefined?view.a+w/2:cx,nw=Math.min(end,Math.max(1000,w*f));
  view.a=Math.max(0,c-(c-view.a)*nw/w);view.b=Math.min(end,view.a+nw);view.a=Math.max(0,view.b-nw);draw();}
function pan(d){var w=view.b-view.a;view.a=Math.min(Math.max(0,view.a+d),end-w);view.b=view.a+w;draw();}
function nsAt(clientX){var r=box.getBoundingClientRect();return view.a+(clientX-r.left-LABEL)*(view.b-view.a)/(width()-LABEL);}
box.addEventListener('wheel',function(e){e.preventDefault();zoom(e.deltaY>0?1.25:0.8,nsAt(e.clientX));},{passive:false});
var drag=null;
box.addEventListener('mousedown',function(e){drag={x:e.clientX,a:view.a};box.classList.add('dragging');});
window.addEventListener('mousemove',function(e){if(!drag)return;var w=view.b-view.a;view.a=drag.a;view.b=drag.a+w;pan(-(e.clientX-drag.x)*w/(width()-LABEL));});
window.addEventListener('mouseup',function(){drag=null;box.classList.remove('dragging');});
window.addEventListener('keydown',function(e){if(e.key==='+'||e.key==='=')zoom(0.5);else if(e.key==='-')zoom(2);else if(e.key==='0'){view={a:0,b:end};draw();}
  else if(e.key==='ArrowLeft')pan(-(view.b-view.a)/4);else if(e.key==='ArrowRight')pan((view.b-view.a)/4);});
document.getElementById('zin').onclick=function(){zoom(0.5);};
document.getElementById('zout').onclick=function(){zoom(2);};
document.getElementById('zreset').onclick=function(){view={a:0,b:end};draw();};
Array.prototype.forEach.call(document.querySelectorAll('a.zoomto'),function(link){link.addEventListener('click',function(e){e.preventDefault();
  var m=data.blamed.filter(function(x){return String(x.rank)===link.getAttribute('data-rank');})[0];if(!m)return;
  var pad=(m.end-m.start)*0.3+1000;view={a:Math.max(0,m.start-pad),b:Math.min(end,m.end+pad)};draw();box.scrollIntoView();});});
window.addEventListener('resize',draw);
window.gilNvtxTimeline={view:view,zoom:zoom,pan:pan,draw:draw,setView:function(a,b){view.a=a;view.b=b;draw();}};
draw();
})();
`;

export function formatHtml(trace: LoadedTrace, report: Report, opts: HtmlOptions = {}): string {
  const data = timelineData(trace, report, opts.maxRanges ?? 40_000);
  const shown =
    data.shown.ranges < data.shown.of
      ? `showing ${data.shown.ranges} of ${data.shown.of} waits and holds (holds ≥ ${fmtDuration(data.shown.minHoldNs)}, waits ≥ ${fmtDuration(data.shown.minWaitNs)}, and every open or blamed one)`
      : `${data.shown.of} waits and holds`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>gil-nvtx report — ${esc(report.source)}</title>
<style>${CSS}</style></head>
<body>
<header><h1>gil-nvtx report: ${esc(report.source)}</h1><span class="dim">${esc(report.producer.name)} ${esc(report.producer.version ?? '')} · trace ${fmtDuration(report.trace.endNs - report.trace.startNs)} · ${esc(shown)}</span></header>
<div id="controls"><button id="zin" title="zoom in (+)">+</button><button id="zout" title="zoom out (−)">−</button><button id="zreset" title="whole trace (0)">reset</button>
<span id="range"></span><span class="legend"><span style="background:#2e7d32"></span>holding<span style="background:#f0a020"></span>waiting<span style="background:#c62828"></span>longest holds<span style="background:#6a1b9a;width:2px"></span>drop request<span style="background:#3f6fb5"></span>other NVTX ranges</span>
<span class="dim">wheel: zoom · drag: pan · ←/→</span></div>
<div id="timeline"></div>
<main>${summaryHtml(report)}</main>
<script type="application/json" id="gil-data">${scriptJson(data)}</script>
<script>${JS}</script>
</body></html>
`;
}
