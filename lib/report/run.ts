// The whole `gil-nvtx report` pipeline as one call (the CLI and `gil-nvtx profile`/`demo` use it).
import { analyzeTrace } from './analyze.js';
import { formatHtml } from './format-html.js';
import { formatJson } from './format-json.js';
import { writePerfetto } from './format-perfetto.js';
import { formatText } from './format-text.js';
import type { GilSourceRequest } from './gil-sources.js';
import { loadTrace } from './load.js';
import type { Report } from './types.js';
import { writeOutputFile } from '../output-file.js';
import { badRowCount } from './model.js';
import { StaleGilSummaryError } from './source-sqlite.js';

export interface ReportRunOptions {
  top?: number;
  minHoldNs?: number;
  /** 'text' (default) or 'json' for the returned `output`. */
  format?: 'text' | 'json';
  color?: boolean;
  html?: string;
  perfetto?: string;
  env?: NodeJS.ProcessEnv;
  /** Which GIL source to analyse when the trace has both (default `auto`). */
  gilSource?: GilSourceRequest;
  onProgress?: (line: string) => void;
}

export interface ReportRunResult {
  report: Report;
  output: string;
  written: string[];
}

export async function runReport(tracePath: string, opts: ReportRunOptions = {}): Promise<ReportRunResult> {
  const load = (ignoreGilSummary: boolean) => loadTrace(tracePath, { env: opts.env, gilSource: opts.gilSource, onProgress: opts.onProgress, ignoreGilSummary });
  let trace = await load(false);
  try {
    opts.onProgress?.('analysing…');
    const analyze = () => analyzeTrace(trace, { top: opts.top, minHoldNs: opts.minHoldNs });
    let report: Report;
    try {
      report = analyze();
    } catch (err) {
      if (!(err instanceof StaleGilSummaryError)) throw err;
      // Changed since the merge: read as it is now, counting its rows like any other trace's.
      opts.onProgress?.(`${err.message} Reading it again without the merge's summary…`);
      trace.close();
      trace = await load(true);
      report = analyze();
    }
    const written: string[] = [];
    if (opts.html) {
      const page = formatHtml(trace, report);
      writeOutputFile(opts.html, (out) => out.write(page));
      written.push(opts.html);
    }
    if (opts.perfetto) {
      writePerfetto(trace, opts.perfetto, { blame: report.blame });
      written.push(opts.perfetto);
    }
    const output = opts.format === 'json' ? formatJson(report) : formatText(report, { color: opts.color });
    return { report, output, written };
  } finally {
    trace.close();
  }
}

/** The exit status of a printed report: 4 overlapping holds (broken instrumentation), 5 incomplete (events dropped while recording, or bad rows left out), else 0. */
export function reportExitCode(report: Report): number {
  if (!report.validation.ok) return 4;
  return report.trace.droppedEvents > 0 || badRowCount(report.validation.badRows) > 0 ? 5 : 0;
}
