// analyzeTrace: validation first, then statistics and blame, into the Report that every formatter reads.
import { createRequire } from 'node:module';
import { blameHolds } from './blame.js';
import type { LoadedTrace } from './model.js';
import { slowRanges } from './slow-ranges.js';
import { gilStats } from './stats.js';
import { REPORT_SCHEMA, type ProcessSummary, type Report } from './types.js';
import { validateTrace } from './validate.js';

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
  const validation = validateTrace(trace, { maxViolations: opts.maxViolations });
  const gils = trace.gils.map((g) => gilStats(trace, g));
  const blame = blameHolds(trace, { top, minHoldNs });
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
    trace: { startNs: trace.traceStart, endNs: trace.traceEnd },
    options: { top, minHoldNs },
    sources: { osrt: trace.has.osrt, sched: trace.has.sched, holdSamples: trace.has.holdSamples },
    processes,
    validation,
    gils,
    blame,
    slowRanges: slowRanges(trace, { top: Math.min(top, 5) }),
  };
}
