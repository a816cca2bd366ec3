// The report's options, defined once for every command that ends in a report (`report`, `profile`):
// the parseArgs definitions, their --help lines and what they become for runReport.
import { parseGilSource } from '../report/gil-sources.js';
import { wantColor } from '../report/format-text.js';
import type { ReportRunOptions } from '../report/run.js';
import { GilNvtxError } from '../errors.js';
import { decimalOption, usageError, wholeNumberOption } from './args.js';

export const REPORT_OPTIONS = {
  'gil-source': { type: 'string' },
  top: { type: 'string' },
  'min-hold-ms': { type: 'string' },
  json: { type: 'boolean' },
  html: { type: 'string' },
  perfetto: { type: 'string' },
  'no-color': { type: 'boolean' },
} as const;

export const REPORT_OPTIONS_HELP = `  --gil-source S         auto (default: the patch's ranges when present, else nsys's), patch, or nsys:
                         which ranges to analyse when a trace holds both
  --top N                explain the N longest holds (default 10)
  --min-hold-ms X        only explain holds of at least X ms (default 0)
  --json                 print the report as JSON (schema gil-nvtx.report/2, see docs/report.md)
  --html FILE            also write a self-contained HTML timeline to FILE
  --perfetto FILE        also write Chrome trace-event JSON (ui.perfetto.dev) to FILE
  --no-color             no colour (also: NO_COLOR=1); colour is used only on a terminal`;

type ReportOptionValues = { [K in keyof typeof REPORT_OPTIONS]?: (typeof REPORT_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** The parsed report options as runReport takes them; a bad value is a usage error of `command`. */
export function reportRunOptions(command: string, values: ReportOptionValues): Pick<ReportRunOptions, 'gilSource' | 'top' | 'minHoldNs' | 'format' | 'color' | 'html' | 'perfetto'> {
  let gilSource: ReportRunOptions['gilSource'];
  try {
    gilSource = parseGilSource(values['gil-source']);
  } catch (err) {
    throw usageError(command, (err as GilNvtxError).message);
  }
  return {
    gilSource,
    top: wholeNumberOption(command, '--top', values.top, { fallback: 10 }),
    minHoldNs: Math.round(decimalOption(command, '--min-hold-ms', values['min-hold-ms'], 0) * 1e6),
    format: values.json ? 'json' : 'text',
    color: !values['no-color'] && wantColor(process.stdout),
    html: values.html,
    perfetto: values.perfetto,
  };
}
