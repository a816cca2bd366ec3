// `--json`: the Report object as is (schema in types.ts, documented in docs/report.md). JSON.stringify
// escapes control characters and lone surrogates, so any name a trace holds yields valid JSON.
import type { Report } from './types.js';

export function formatJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
