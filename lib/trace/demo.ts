import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeDirs } from '../make-dirs.js';
import { GilNvtxError } from '../errors.js';
import { findNsys, nsysProfile } from '../nsys/run.js';
import { buildPython, defaultDemoVersion, hasGilNvtxSymbol } from '../python/build.js';
import { runReport } from '../report/run.js';
import type { Report } from '../report/types.js';
import { PACKAGE_ROOT } from './collector-path.js';
import { PERFETTO_FILE } from './perfetto.js';
import { traceCommand } from './run.js';

export const DEMO_WORKLOAD = join(PACKAGE_ROOT, 'examples', 'workloads', 'gil_stall.py');

export interface DemoOptions {
  /** Use this (patched) interpreter instead of building one. */
  python?: string;
  /** `auto`: nsys when installed, else the collector. */
  tool?: 'auto' | 'nsys' | 'collector';
  outDir?: string;
  quiet?: boolean;
  color?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Progress lines (build stages, which tool, where files go). */
  onProgress?: (line: string) => void;
  /** What the workload and nsys print, as it comes. */
  onOutput?: (chunk: string) => void;
}

export interface DemoResult {
  python: string;
  tool: 'nsys' | 'collector';
  /** What the report read: the nsys SQLite export or the collector's trace.sqlite. */
  trace: string;
  html: string;
  perfetto: string;
  report: Report;
  /** The text report. */
  output: string;
  written: string[];
}

/**
 * The quick start, end to end: a patched interpreter (built or reused), the bundled GIL-stall
 * workload traced with nsys (-t nvtx,osrt) or the embedded collector, then the report with HTML and
 * Perfetto files.
 */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const env = opts.env ?? process.env;
  const progress = opts.onProgress ?? (() => {});
  const outDir = resolve(opts.outDir ?? 'gil-nvtx-demo');
  makeDirs(outDir);

  let python = opts.python;
  if (python) {
    if ((await hasGilNvtxSymbol(python)) === false) {
      throw new GilNvtxError(`${python} is not a gil-nvtx patched interpreter (no _Py_gil_nvtx_version symbol).`, {
        hint: 'Drop --python to let the demo build one, or build it with `gil-nvtx build-python <version>`.',
        exitCode: 2,
      });
    }
  } else {
    const version = defaultDemoVersion(env);
    progress(`patched CPython ${version}: building or reusing (first build takes several minutes)…`);
    const built = await buildPython({ version, quiet: opts.quiet, env, onProgress: (stage, message) => progress(`build-python ${stage}: ${message}`) });
    python = built.python;
    progress(`${built.reused ? 'reusing' : 'built'} ${python}`);
  }

  const nsys = findNsys(env);
  const tool = opts.tool === 'nsys' || opts.tool === 'collector' ? opts.tool : nsys ? 'nsys' : 'collector';
  if (tool === 'nsys' && !nsys) {
    throw new GilNvtxError('--nsys: nsys (Nsight Systems) was not found on PATH.', {
      hint: 'Install it (scripts/ci/install-nsys.sh) or run the demo with the embedded collector (--collector).',
      exitCode: 2,
    });
  }
  const command = [python, '-u', DEMO_WORKLOAD];
  let trace: string;
  if (tool === 'nsys') {
    progress(`tracing the workload with nsys (-t nvtx,osrt) into ${outDir}…`);
    const r = await nsysProfile(command, { output: join(outDir, 'gil-stall'), trace: ['nvtx', 'osrt'], timeoutSec: 300, env, onOutput: opts.onOutput });
    if (!r.sqlite) throw new GilNvtxError('nsys produced no SQLite export.');
    trace = r.sqlite;
  } else {
    progress(`tracing the workload with the gil-nvtx collector into ${outDir}…`);
    const r = await traceCommand(command, { outDir, env, stdio: 'pipe', onProgress: progress });
    opts.onOutput?.(r.output);
    if (r.exitCode !== 0) {
      throw new GilNvtxError(`The demo workload failed (exit ${r.exitCode}).`, { hint: r.output.trim().split('\n').slice(-10).join('\n') });
    }
    trace = r.database;
  }

  const html = join(outDir, 'report.html');
  const perfetto = join(outDir, PERFETTO_FILE);
  progress('analysing…');
  const { report, output, written } = await runReport(trace, { html, perfetto, color: opts.color, env });
  return { python, tool, trace, html, perfetto, report, output, written };
}
