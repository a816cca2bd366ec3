import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateTrace, type GenerateOptions, type GeneratedTrace } from '../../bench/report/generate-trace.mjs';
import { analyzeTrace, type AnalyzeOptions } from '../../lib/report/analyze.js';
import { loadTrace } from '../../lib/report/load.js';
import type { Report } from '../../lib/report/types.js';

export function scratch(prefix = 'gil-nvtx-report-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A small synthetic nsys-schema trace (the benchmark's generator at test size). */
export function fixture(name: string, options: GenerateOptions = {}): GeneratedTrace {
  return generateTrace(join(scratch(), `${name}.sqlite`), { holds: 200, threads: 4, longHoldNs: 200_000_000, ...options });
}

export async function reportOf(path: string, opts: AnalyzeOptions = {}): Promise<Report> {
  const trace = await loadTrace(path);
  try {
    return analyzeTrace(trace, opts);
  } finally {
    trace.close();
  }
}
