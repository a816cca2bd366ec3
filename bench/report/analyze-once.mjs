// One full analysis (load + validation + statistics + blame + text), as the benchmark measures it.
// Usage: node bench/report/analyze-once.mjs <trace.sqlite>   (needs `npm run build:ts` first)
import { analyzeTrace, formatText, loadTrace } from '../../dist/report/index.js';

const trace = await loadTrace(process.argv[2]);
const report = analyzeTrace(trace, { top: 10 });
const text = formatText(report, { color: false });
trace.close();
process.stdout.write(`holds ${report.gils.reduce((a, g) => a + g.holds.count, 0)}, waits ${report.gils.reduce((a, g) => a + g.waits.count, 0)}, ` +
  `valid ${report.validation.ok}, top hold ${report.blame[0]?.durationNs} ns, ${text.length} chars of text\n`);
