// analyzeTrace: validation, statistics and blame, into the Report that every formatter reads. Each GIL
// scan re-reads the trace, so validation, statistics, the longest holds with their waiters and the holds
// during the slowest other ranges all share one scan per GIL.
import { createRequire } from 'node:module';
import { LongestHoldsPass, blamePicked } from './blame.js';
import type { LoadedTrace } from './model.js';
import { scanGils } from './scan.js';
import { HoldsDuringPass, servedByPlan, slowRangeCandidates, slowRangesFrom } from './slow-ranges.js';
import { StatsPass } from './stats.js';
import { REPORT_SCHEMA, type ProcessSummary, type Report } from './types.js';
import { ValidationPass } from './validate.js';

export interface AnalyzeOptions {
  /** How many of the longest holds to explain (default 10). */
  top?: number;
  /** Only holds at least this long are blamed (default 0). */
  minHoldNs?: number;
  maxViolations?: number;
}

let cachedVersion: string | undefined;
function packageVersion(): string {
  if (cachedVersion === undefined) {
    try {
      cachedVersion = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
    } catch {
      cachedVersion = '0.0.0';
    }
  }
  return cachedVersion;
}

export function analyzeTrace(trace: LoadedTrace, opts: AnalyzeOptions = {}): Report {
  const top = opts.top ?? 10;
  const minHoldNs = opts.minHoldNs ?? 0;
  const validation = new ValidationPass(trace, opts.maxViolations);
  const stats = new StatsPass(trace);
  const longest = new LongestHoldsPass(trace, top, minHoldNs);
  const slow = slowRangeCandidates(trace, Math.min(top, 5));
  const during = new HoldsDuringPass(trace, slow.map((c) => c.row), 5);
  const served = servedByPlan(trace, slow);
  scanGils(trace, [validation, stats, longest, during, ...(served ? [served.pass] : [])]);
  const processes: ProcessSummary[] = [...trace.processes.values()].map((p) => ({
    pid: p.pid,
    name: p.name,
    threads: trace.threads.filter((t) => t.pid === p.pid).length,
    gils: trace.gils.filter((g) => g.pid === p.pid).map((g) => g.key),
  }));
  return {
    schema: REPORT_SCHEMA,
    generator: { name: 'gil-nvtx', version: packageVersion() },
    source: trace.source,
    producer: { name: trace.producer, version: trace.producerVersion },
    trace: { startNs: trace.traceStart, endNs: trace.traceEnd, droppedEvents: trace.droppedEvents },
    options: { top, minHoldNs },
    sources: { osrt: trace.has.osrt, sched: trace.has.sched, holdSamples: trace.has.holdSamples },
    gilSource: trace.gilSource,
    processes,
    validation: validation.result(),
    gils: stats.stats,
    blame: blamePicked(trace, longest.best),
    slowRanges: slowRangesFrom(trace, slow, during, served),
  };
}
