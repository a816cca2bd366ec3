// The report's words about where its GIL ranges came from (gil-sources.ts), shared by the text and HTML
// formats: which source, what it does not record, and which other source the trace also holds.
import type { GilStats, Report } from './types.js';

/** Header lines, plain text (the caller colours or escapes them). */
export function gilSourceLines(report: Report): string[] {
  const s = report.gilSource;
  if (!s) return [];
  const lines = [`GIL ranges from ${s.label}${s.gaps.length ? '; not recorded by this source:' : ''}`];
  for (const gap of s.gaps) lines.push(`  - ${gap}`);
  for (const o of s.others) {
    lines.push(`  also in this trace: ${o.ranges} ranges from ${o.label}, not counted here; \`--gil-source ${o.id}\` analyses them`);
  }
  return lines;
}

/** `interpreter 0`, or that the source does not say. */
export function interpreterText(report: Report, g: GilStats): string {
  return report.gilSource && !report.gilSource.carries.interpreterId ? 'interpreter not recorded' : `interpreter ${g.interpreterId}`;
}

/** The forced-switch count, or that the source does not record drop requests. */
export function forcedSwitchesText(report: Report, g: GilStats): string {
  return report.gilSource && !report.gilSource.carries.dropRequests ? 'not recorded' : String(g.forcedSwitches);
}
