// gil-nvtx report library: load a trace, analyse it, format the result.
export { loadTrace, readTrace, type LoadOptions } from './load.js';
export { analyzeTrace, type AnalyzeOptions } from './analyze.js';
export { validateTrace } from './validate.js';
export { gilStats, distribution } from './stats.js';
export { blameHolds, type BlameOptions } from './blame.js';
export { formatText, wantColor, type TextOptions } from './format-text.js';
export { formatJson } from './format-json.js';
export { formatHtml, type HtmlOptions } from './format-html.js';
export { writePerfetto, writePerfettoEvents, type PerfettoOptions } from './format-perfetto.js';
export { writeOutputFile, type ChunkWriter } from '../output-file.js';
export { reportExitCode, runReport, type ReportRunOptions, type ReportRunResult } from './run.js';
export { GilEventKind, cutOpenRanges } from './model.js';
export type { LoadedTrace, GilRanges, GilVisitor, GilSource, ThreadInfo, ThreadTable, ProcessInfo } from './model.js';
export { StaleGilSummaryError, gilRangesFromSqlite, readGilSummary, type GilSourceContext } from './source-sqlite.js';
export * from './types.js';
export { GIL_SOURCE_KINDS, NSYS_GIL_DOMAIN, chooseGilSource, parseGilSource, type GilSourceId, type GilSourceKind, type GilSourceRequest } from './gil-sources.js';
export { compareGilSources, pairRanges, type SourceComparison, type KindComparison } from './compare-sources.js';
