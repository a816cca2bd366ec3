// One full analysis (load + validation + statistics + blame + text), as the benchmark measures it;
// `--html FILE` and `--perfetto FILE` add those outputs (each one or two more scans of the trace).
// Usage: node bench/report/analyze-once.mjs <trace.sqlite> [--html FILE] [--perfetto FILE]   (needs `npm run build:ts` first)
import { parseArgs } from 'node:util';
import { analyzeTrace, formatHtml, formatText, loadTrace, writeOutputFile, writePerfetto } from '../../dist/report/index.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { html: { type: 'string' }, perfetto: { type: 'string' } } });
const trace = await loadTrace(positionals[0]);
const report = analyzeTrace(trace, { top: 10 });
const text = formatText(report, { color: false });
if (values.html) {
  const page = formatHtml(trace, report);
  writeOutputFile(values.html, (out) => out.write(page));
}
if (values.perfetto) writePerfetto(trace, values.perfetto);
trace.close();
process.stdout.write(`holds ${report.gils.reduce((a, g) => a + g.holds.count, 0)}, waits ${report.gils.reduce((a, g) => a + g.waits.count, 0)}, ` +
  `valid ${report.validation.ok}, top hold ${report.blame[0]?.durationNs} ns, ${text.length} chars of text\n`);
