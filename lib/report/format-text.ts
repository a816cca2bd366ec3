// The terminal report: validation verdict, per-GIL statistics, then the longest holds explained.
import { forcedSwitchesText, gilSourceLines, interpreterText } from './format-source.js';
import { formatLocation } from './locations.js';
import { eventLoopText } from './event-loop.js';
import { servedBySentence } from './served-by.js';
import type { BlamedHold, Distribution, GilStats, PyLocation, Report, SlowRange, ThreadRef } from './types.js';
import { fmtAt, fmtDuration, fmtPercent, safeText } from './units.js';
import { incompleteWarnings } from './warnings.js';

export interface TextOptions {
  color?: boolean;
}

/** Colour when writing to a terminal, unless NO_COLOR is set (no-color.org); FORCE_COLOR forces it. */
export function wantColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true && env.TERM !== 'dumb';
}

function palette(on: boolean) {
  const wrap = (code: string) => (s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);
  return { bold: wrap('1'), dim: wrap('2'), red: wrap('31'), green: wrap('32'), yellow: wrap('33'), cyan: wrap('36'), magenta: wrap('35') };
}

const who = (t: ThreadRef) => `${safeText(t.name)} (tid ${t.tid})`;

/** A location with its file relative to the working folder when it lies inside it. */
function at(w: PyLocation): string {
  const cwd = `${process.cwd()}/`;
  return safeText(formatLocation(w, (f) => (f.startsWith(cwd) ? f.slice(cwd.length) : f)));
}

function whereLine(b: BlamedHold): string | null {
  const { taken, released } = b.where;
  if (!taken && !released) return null;
  if (taken && released && taken.function === released.function && taken.file === released.file && taken.line === released.line) {
    return `taken and released in ${at(taken)}`;
  }
  return [taken ? `taken in ${at(taken)}` : 'taken where the trace does not say (that frame had returned)', released ? `released in ${at(released)}` : null]
    .filter(Boolean)
    .join(', ');
}

function dist(d: Distribution): string {
  if (d.count === 0) return '—';
  return `${d.count} × total ${fmtDuration(d.totalNs)}, p50 ${fmtDuration(d.p50Ns)} p95 ${fmtDuration(d.p95Ns)} p99 ${fmtDuration(d.p99Ns)} max ${fmtDuration(d.maxNs)}`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => [...r[c]!].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd());
}

function gilSection(g: GilStats, c: ReturnType<typeof palette>, report: Report): string[] {
  const out: string[] = [];
  out.push(c.bold(`GIL ${g.gil} — ${safeText(g.processName)} (pid ${g.pid}, ${interpreterText(report, g)})`));
  out.push(`  span ${fmtDuration(g.spanNs)}; GIL held ${fmtPercent(g.utilisation)} of it; someone waiting ${fmtPercent(g.contention)} (${fmtDuration(g.contendedNs)})`);
  out.push(`  holds: ${dist(g.holds)}`);
  out.push(`  waits: ${dist(g.waits)}`);
  out.push(`  forced switches (drop requests): ${forcedSwitchesText(report, g)}; handoff release→acquire: ${g.handoff.count ? `p50 ${fmtDuration(g.handoff.p50Ns)} p99 ${fmtDuration(g.handoff.p99Ns)} max ${fmtDuration(g.handoff.maxNs)}` : '—'}`);
  const rows = [['  thread', 'holds', 'held', 'p50', 'p99', 'max', 'waits', 'waited', 'p50', 'p99', 'max', 'drops']];
  for (const t of g.threads) {
    rows.push([
      `  ${who(t.thread)}`,
      String(t.holds.count + t.openHolds),
      fmtDuration(t.holds.totalNs),
      fmtDuration(t.holds.p50Ns),
      fmtDuration(t.holds.p99Ns),
      fmtDuration(t.holds.maxNs),
      String(t.waits.count + t.openWaits),
      fmtDuration(t.waits.totalNs),
      fmtDuration(t.waits.p50Ns),
      fmtDuration(t.waits.p99Ns),
      fmtDuration(t.waits.maxNs),
      String(t.dropRequests),
    ]);
  }
  const lines = table(rows);
  out.push(c.dim(lines[0]!), ...lines.slice(1));
  return out;
}

function holdSection(b: BlamedHold, traceStart: number, c: ReturnType<typeof palette>): string[] {
  const out: string[] = [];
  const cpu = b.holderCpu;
  const state =
    cpu.state === 'unknown'
      ? c.dim(b.durationNs >= 10_000_000 ? 'holder CPU state unknown (no SCHED_EVENTS, no watchdog samples)' : 'holder CPU state unknown (shorter than the watchdog samples; no SCHED_EVENTS)')
      : `${cpu.state === 'on-cpu' ? c.green('holder on CPU') : cpu.state === 'off-cpu' ? c.red('holder OFF CPU') : c.yellow('holder partly off CPU')} ` +
        `${fmtPercent(cpu.onCpuFraction ?? 0)} of the hold (${cpu.source === 'sched-events' ? 'SCHED_EVENTS' : 'watchdog samples'})`;
  out.push(
    `${c.bold(`#${b.rank}`)} ${c.bold(fmtDuration(b.durationNs))} by ${c.cyan(who(b.thread))} in ${safeText(b.processName)} (pid ${b.pid}), ` +
      `${fmtAt(b.startNs, traceStart)} → ${fmtAt(b.endNs, traceStart)}`,
  );
  const where = whereLine(b);
  if (where) out.push(`   ${c.bold('where:')} ${where}`);
  // An unknown CPU state says nothing the why line does not already say.
  if (cpu.state !== 'unknown' || b.why.source === 'none') out.push(`   ${state}`);
  if (b.why.source !== 'none') out.push(`   ${c.bold('why:')} ${safeText(b.why.summary)}`);
  if (b.waiters.length === 0) out.push('   blocked nobody');
  else {
    out.push(`   blocked ${b.waiterCount} thread${b.waiterCount === 1 ? '' : 's'} for ${fmtDuration(b.blockedNs)} in total:`);
    for (const w of b.waiters.slice(0, 10)) {
      out.push(`     ${who(w.thread)} waited ${fmtDuration(w.waitNs)}${w.where ? ` in ${at(w.where)}` : ''}${w.open ? ' (still waiting at trace end)' : ''}, ${fmtDuration(w.blockedNs)} of it during this hold`);
    }
    if (b.waiters.length > 10) out.push(c.dim(`     … and ${b.waiters.length - 10} more waits`));
  }
  if (b.dropRequestsDuring > 0) out.push(`   ${b.dropRequestsDuring} drop request${b.dropRequestsDuring === 1 ? '' : 's'} ignored during the hold (the holder was not running Python bytecode)`);
  const calls = (label: string, list: BlamedHold['holderOsCalls']) => {
    if (list === null) return;
    if (list.length === 0) out.push(`   ${label}: none`);
    else out.push(`   ${label}: ${list.slice(0, 6).map((o) => `${c.magenta(safeText(o.name))} ${fmtDuration(o.overlapNs)}${label.startsWith('other') ? ` [${who(o.thread)}]` : ''}`).join(', ')}`);
  };
  calls('holder OS calls', b.holderOsCalls);
  calls('other threads\u2019 OS calls', b.otherOsCalls);
  if (b.holderOsCalls === null) out.push(c.dim('   OS calls unknown (no OSRT_API; profile with `-t nvtx,osrt`)'));
  if (b.concurrentRanges.length > 0) {
    out.push(`   in flight: ${b.concurrentRanges.slice(0, 6).map((r) => `${r.domain ? `${safeText(r.domain)}:` : ''}${safeText(r.name)} [${safeText(r.processName)} pid ${r.pid}, ${who(r.thread)}]`).join('; ')}`);
  }
  return out;
}

function slowRangeSection(r: SlowRange, traceStart: number, c: ReturnType<typeof palette>): string[] {
  const out = [
    `${c.bold(`#${r.rank}`)} ${c.bold(fmtDuration(r.durationNs))} ${c.cyan(safeText(r.domain))}:${safeText(r.name)} in ${safeText(r.processName)} (pid ${r.pid}), ` +
      `${fmtAt(r.startNs, traceStart)} → ${fmtAt(r.endNs, traceStart)}; median of ${r.instances} is ${fmtDuration(r.medianNs)}`,
  ];
  if (r.holds.length === 0) out.push('   no GIL was held while it ran');
  else {
    out.push(`   GIL held ${fmtDuration(r.gilHeldNs)} in total while it ran; longest holds in progress:`);
    for (const h of r.holds) {
      out.push(`     ${fmtDuration(h.durationNs)} hold by ${who(h.thread)} in ${safeText(h.processName)} (pid ${h.pid}), ${fmtDuration(h.overlapNs)} of it during this one`);
    }
  }
  if (r.eventLoop) out.push(`   ${eventLoopText(r.eventLoop)}`);
  for (const s of r.servedBy ?? []) out.push(`   ${servedBySentence(s, at)}`);
  return out;
}

export function formatText(report: Report, opts: TextOptions = {}): string {
  const c = palette(opts.color === true);
  const out: string[] = [];
  const span = report.trace.endNs - report.trace.startNs;
  out.push(c.bold(`gil-nvtx report: ${safeText(report.source)}`));
  out.push(c.dim(`  ${report.producer.name}${report.producer.version ? ` ${report.producer.version}` : ''}, trace ${fmtDuration(span)}; ` +
    `OS calls ${report.sources.osrt ? 'yes' : 'no'}, scheduling ${report.sources.sched ? 'yes' : 'no'}, watchdog samples ${report.sources.holdSamples ? 'yes' : 'no'}`));
  for (const line of gilSourceLines(report)) out.push(c.dim(`  ${safeText(line)}`));
  out.push('');
  const v = report.validation;
  for (const w of incompleteWarnings(report)) out.push(c.red(`⚠ ${w}`));
  if (v.ok) out.push(`${c.green('✓ valid')}: ${v.checkedHolds} holds checked, no two holds of one GIL overlap`);
  else {
    out.push(`${c.red(`✗ INVALID: ${v.violationCount} overlapping hold${v.violationCount === 1 ? '' : 's'}`)} — the instrumentation is broken (e.g. ranges around gil->mutex instead of gil->locked); statistics below are not trustworthy`);
    for (const x of v.violations.slice(0, 10)) {
      out.push(`  GIL ${x.gil}: ${who(x.second.thread)} acquired at ${fmtAt(x.second.startNs, report.trace.startNs)} while ${who(x.first.thread)} held it since ${fmtAt(x.first.startNs, report.trace.startNs)} (overlap ${fmtDuration(x.overlapNs)})`);
    }
    if (v.violationCount > 10) out.push(c.dim(`  … ${v.violationCount - 10} more (see --json)`));
  }
  for (const n of v.notes.slice(0, 10)) out.push(c.dim(`  note: ${who(n.thread)} of pid ${n.thread.pid} at ${fmtAt(n.atNs, report.trace.startNs)}: ${n.message}`));
  if (v.notes.length > 10) out.push(c.dim(`  … ${v.notes.length - 10} more notes (see --json)`));
  for (const g of report.gils) {
    out.push('');
    out.push(...gilSection(g, c, report));
  }
  out.push('');
  if (report.blame.length === 0) out.push(`No holds${report.options.minHoldNs > 0 ? ` of at least ${fmtDuration(report.options.minHoldNs)}` : ''} to explain.`);
  else {
    out.push(c.bold(`Longest holds (top ${report.blame.length})`));
    for (const b of report.blame) out.push(...holdSection(b, report.trace.startNs, c));
  }
  if (report.slowRanges.length > 0) {
    out.push('');
    out.push(c.bold(`Slowest operations outside the GIL (top ${report.slowRanges.length}) and the GIL holds during them`));
    for (const r of report.slowRanges) out.push(...slowRangeSection(r, report.trace.startNs, c));
  }
  return `${out.join('\n')}\n`;
}
