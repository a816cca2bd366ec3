// The report on real Nsight Systems output: a small C program emits the GIL patch's NVTX contract
// (test/report/fixtures/gilsim.c), nsys 2022.4 records it with -t nvtx,osrt, and the report reads both
// the .nsys-rep (exported on the fly) and the SQLite export.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { nsysProfile } from '../../lib/nsys/run.js';
import { findNvtxHeaders } from '../../lib/nvtx-headers.js';
import { analyzeTrace } from '../../lib/report/analyze.js';
import { writePerfetto } from '../../lib/report/format-perfetto.js';
import { loadTrace } from '../../lib/report/load.js';
import type { Report } from '../../lib/report/types.js';
import { nsysGate } from '../helpers/tools.js';
import { scratch } from './helpers.js';

describe.skipIf(nsysGate.skip)('report on a real nsys 2022.4 trace', () => {
  const dir = scratch('gil-nvtx-nsys-');
  let rep: string;
  let sqlite: string;

  beforeAll(async () => {
    const exe = join(dir, 'gilsim');
    const include = findNvtxHeaders().includeDir;
    execFileSync('cc', ['-O1', '-o', exe, join(import.meta.dirname, 'fixtures/gilsim.c'), `-I${include}`, '-lpthread', '-ldl']);
    const r = await nsysProfile([exe, join(dir, 'gilsim.out')], { output: join(dir, 'gilsim'), trace: ['nvtx', 'osrt'], timeoutSec: 120, cwd: dir });
    rep = r.report;
    sqlite = r.sqlite!;
  }, 300_000);

  const check = (r: Report) => {
    expect(r.producer.name).toBe('nsys');
    expect(r.validation.ok).toBe(true);
    expect(r.validation.notes.map((n) => n.kind)).toEqual(['open-final-hold']);
    const gil = r.gils[0]!;
    expect(gil.holds.count).toBe(61);
    expect(gil.threads.map((t) => t.thread.name).sort()).toEqual(['gilsim', 'worker-0', 'worker-1', 'worker-2']);
    expect(gil.forcedSwitches).toBeGreaterThan(0);
    const top = r.blame[0]!;
    expect(top.thread.name).toBe('worker-0');
    expect(top.durationNs).toBeGreaterThan(50_000_000);
    expect(top.waiters.map((w) => w.thread.name).sort()).toEqual(['worker-1', 'worker-2']);
    expect(top.holderOsCalls!.map((c) => c.name)).toContain('usleep');
    expect(top.otherOsCalls!.some((c) => c.name === 'fdatasync' && c.thread.name === '<script>alert(1)</script>')).toBe(true);
    expect(top.concurrentRanges.map((c) => `${c.domain}:${c.name}`)).toContain('node:request /predict');
    expect(top.holderCpu.state).toBe('unknown');
  };

  it('reads the SQLite export', async () => {
    const trace = await loadTrace(sqlite);
    try {
      check(analyzeTrace(trace));
      const out = join(dir, 'perfetto.json');
      writePerfetto(trace, out);
      const doc = JSON.parse(readFileSync(out, 'utf8'));
      expect(doc.traceEvents.filter((e: { name: string; ph: string }) => e.ph === 'X' && e.name === 'Holding GIL')).toHaveLength(62);
    } finally {
      trace.close();
    }
  });

  it('reads the .nsys-rep through nsys export', async () => {
    const trace = await loadTrace(rep);
    try {
      expect(trace.sqlitePath).not.toBe(sqlite);
      check(analyzeTrace(trace));
    } finally {
      trace.close();
    }
  }, 300_000);
});
