// What a GIL holder was doing while it held the GIL for long, from the watchdog's samples
// (GILNVTX_HOLD_SAMPLES: one row per millisecond or so of every hold longer than the watchdog's
// threshold). Counters are cumulative, so the difference between a hold's first and last readable
// sample says what happened in between: time on a CPU, time runnable but waiting for one, cgroup
// throttling, faults. Per-sample fields (state, system call, wchan) are counted.
import type { Database } from 'better-sqlite3';
import { syscallName } from '../trace/syscalls.js';
import type { HolderActivity, HolderVerdict } from './types.js';
import { fmtDuration, fmtPercent } from './units.js';

type SampleRow = [
  gt: number, holdStart: number, ts: number, state: string | null, wchan: string | null, execNs: number | null, runqNs: number | null,
  minflt: number | null, majflt: number | null, syscall: number | null, throttledNs: number | null, nrThrottled: number | null,
  psiCpuUs: number | null, psiIoUs: number | null, psiMemUs: number | null,
];

/** Samples of the given holds, one query for all of them; null per hold without samples. */
export function holderActivity(db: Database, holds: { gt: number; s: number; e: number }[]): (HolderActivity | null)[] {
  if (holds.length === 0) return [];
  const values = holds.map((h) => `(${Math.trunc(h.gt)}, ${Math.trunc(h.s)})`).join(', ');
  const rows = db
    .prepare(
      'SELECT globalTid, holdStart, ts, state, wchan, execNs, runqNs, minflt, majflt, syscall, throttledNs, nrThrottled, psiCpuUs, psiIoUs, psiMemUs ' +
        `FROM GILNVTX_HOLD_SAMPLES WHERE (globalTid, holdStart) IN (VALUES ${values}) ORDER BY globalTid, holdStart, ts`,
    )
    .raw(true)
    .all() as SampleRow[];
  const byHold = new Map<string, SampleRow[]>();
  for (const r of rows) {
    const k = `${r[0]}/${r[1]}`;
    let list = byHold.get(k);
    if (!list) byHold.set(k, (list = []));
    list.push(r);
  }
  return holds.map((h) => {
    const s = byHold.get(`${Math.trunc(h.gt)}/${Math.trunc(h.s)}`);
    return s ? summarize(s.filter((r) => r[2] <= h.e + 2_000_000), h.e - h.s) : null;
  });
}

/** Change of column `i` between the first and last sample where it was readable. */
function delta(rows: SampleRow[], i: number): number | null {
  const known = rows.filter((r) => r[i] !== null);
  if (known.length < 2) return null;
  return Math.max(0, (known.at(-1)![i] as number) - (known[0]![i] as number));
}

function counted(values: (string | null)[]): { name: string; samples: number }[] {
  const m = new Map<string, number>();
  for (const v of values) if (v) m.set(v, (m.get(v) ?? 0) + 1);
  return [...m].map(([name, samples]) => ({ name, samples })).sort((a, b) => b.samples - a.samples || a.name.localeCompare(b.name));
}

export function summarize(rows: SampleRow[], holdNs: number): HolderActivity | null {
  // A sample read after the thread ended has nothing readable: it says nothing about the hold.
  const usable = rows.filter((r) => r[5] !== null || (r[3] !== null && r[3] !== '?'));
  if (usable.length === 0) return null;
  const fromNs = usable[0]![2];
  const toNs = usable.at(-1)![2];
  const sampledNs = toNs - fromNs;
  const states: Record<string, number> = {};
  for (const r of usable) if (r[3] && r[3] !== '?') states[r[3]] = (states[r[3]] ?? 0) + 1;
  const blocked = usable.filter((r) => r[3] === 'S' || r[3] === 'D');
  const syscalls = counted(blocked.map((r) => (r[9] !== null && r[9] >= 0 ? syscallName(r[9]) : null))).map((x) => ({
    ...x,
    state: blocked.some((r) => r[3] === 'D' && r[9] !== null && syscallName(r[9]) === x.name) ? 'D' : 'S',
  }));
  const psi = [delta(usable, 12), delta(usable, 13), delta(usable, 14)];
  const a: HolderActivity = {
    samples: usable.length,
    fromNs,
    toNs,
    sampledNs,
    holdNs,
    onCpuNs: delta(usable, 5),
    runQueueNs: delta(usable, 6),
    throttledNs: delta(usable, 10),
    throttledPeriods: delta(usable, 11),
    minorFaults: delta(usable, 7),
    majorFaults: delta(usable, 8),
    states,
    syscalls,
    wchan: counted(blocked.map((r) => r[4])),
    pressureUs: psi.every((v) => v === null) ? null : { cpu: psi[0]!, io: psi[1]!, memory: psi[2]! },
    verdict: 'unknown',
    summary: '',
  };
  [a.verdict, a.summary] = verdict(a, blocked.length / usable.length, (states.D ?? 0) / usable.length);
  return a;
}

/**
 * One of four causes (they call for four different fixes), from fractions of the sampled part:
 * on a CPU (C code computing without releasing the GIL), runnable but not running (CPU contention, or
 * the cgroup's quota when throttling moved), blocked in a system call (a call that sleeps or waits
 * holding the GIL), or in page faults waiting for I/O (major faults in D state).
 */
/** What a major fault costs at the least: a 4 KiB read from a fast local disk. */
const MAJOR_FAULT_FLOOR_NS = 50_000;

function verdict(a: HolderActivity, blockedShare: number, dShare: number): [HolderVerdict, string] {
  const span = a.sampledNs;
  if (span <= 0) return ['unknown', `sampled once (${a.samples} sample); nothing to compare`];
  const share = (ns: number | null) => (ns === null ? 0 : Math.min(1, ns / span));
  const on = share(a.onCpuNs);
  const runq = share(a.runQueueNs);
  const throttled = share(a.throttledNs);
  const of = ` of the sampled ${fmtDuration(span)}`;
  // A major fault is a disk read: it keeps the holder at least MAJOR_FAULT_FLOOR_NS, partly asleep in D
  // and partly on a CPU in the kernel's fault path, which the samples cannot tell from user code. So
  // many faults make the verdict even when D is a minority of the samples.
  const majors = a.majorFaults ?? 0;
  if (majors > 0 && (dShare >= 0.3 || majors * MAJOR_FAULT_FLOOR_NS >= 0.3 * span)) {
    const rate = majors / (span / 1e6);
    return ['page-faults', `holder in page faults waiting for I/O: ${majors} major fault(s)${rate >= 0.1 ? ` (${rate.toFixed(1)} per ms)` : ''}, state D ${fmtPercent(dShare)}${of} — memory-mapped or swapped pages read from disk while holding the GIL`];
  }
  // A throttled cgroup keeps its threads off the CPU whatever else the counters say.
  if (throttled >= 0.3) {
    return ['throttled', `holder runnable but throttled by its cgroup's CPU quota: ${fmtDuration(a.throttledNs ?? 0)} throttled in ${a.throttledPeriods ?? 0} period(s)${of}, on a CPU ${fmtPercent(on)}`];
  }
  const top = Math.max(on, runq, blockedShare);
  if (top === blockedShare && blockedShare >= 0.2) {
    const call = a.syscalls[0];
    const where = call ? `blocked in ${call.name} (state ${call.state})` : `blocked (state ${dShare > blockedShare / 2 ? 'D' : 'S'}${a.wchan[0] ? `, in ${a.wchan[0].name}` : ''})`;
    return ['blocked-in-syscall', `holder ${where} ${fmtPercent(blockedShare)}${of} — a C call that blocks without releasing the GIL`];
  }
  if (top === runq && runq >= 0.2) {
    if (throttled >= 0.1 || (a.throttledPeriods ?? 0) > 0) {
      return ['throttled', `holder runnable but throttled by its cgroup's CPU quota: ${fmtDuration(a.throttledNs ?? 0)} throttled in ${a.throttledPeriods ?? 0} period(s), waiting for a CPU ${fmtPercent(runq)}${of}`];
    }
    return ['waiting-for-cpu', `holder runnable but waiting for a CPU ${fmtPercent(runq)}${of} (run-queue delay ${fmtDuration(a.runQueueNs ?? 0)}) — other work had the CPU`];
  }
  if (on >= 0.5) return ['on-cpu', `holder on a CPU ${fmtPercent(on)}${of} — computing without releasing the GIL (a C call or extension)`];
  return ['mixed', `holder on a CPU ${fmtPercent(on)}, waiting for a CPU ${fmtPercent(runq)}, blocked ${fmtPercent(blockedShare)}${of}`];
}
