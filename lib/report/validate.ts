// The invariant the GIL patch promises (design.md): holds of one GIL never overlap, because both
// transitions are emitted inside gil->mutex. An overlap means broken instrumentation (the naive
// MUTEX_LOCK patch) — so this runs before any statistic is trusted.
import { pidOf, tidOf } from './load.js';
import type { GilEvents, LoadedTrace } from './model.js';
import type { Note, OverlapViolation, ThreadRef, Validation } from './types.js';

export function threadRef(trace: LoadedTrace, index: number): ThreadRef {
  const t = trace.threads[index]!;
  return { pid: t.pid, tid: t.tid, name: t.name };
}

/** Any thread of the trace by its globalTid, GIL thread or not (a Node thread, say). */
export function threadRefOf(trace: LoadedTrace, globalTid: number): ThreadRef {
  const pid = pidOf(globalTid);
  const tid = tidOf(globalTid);
  return { pid, tid, name: trace.threadNames.get(globalTid) ?? (tid === pid ? 'main' : `thread ${tid}`) };
}

function overlaps(trace: LoadedTrace, gil: GilEvents, limit: number, out: OverlapViolation[]): number {
  const { start, end, thread, count } = gil.holds;
  let found = 0;
  let maxEnd = -Infinity;
  let maxAt = -1;
  for (let i = 0; i < count; i++) {
    const s = start[i]!;
    if (s < maxEnd) {
      found++;
      if (out.length < limit) {
        out.push({
          gil: gil.key,
          pid: gil.pid,
          interpreterId: gil.interpreterId,
          first: { thread: threadRef(trace, thread[maxAt]!), startNs: start[maxAt]!, endNs: end[maxAt]! },
          second: { thread: threadRef(trace, thread[i]!), startNs: s, endNs: end[i]! },
          overlapNs: Math.min(maxEnd, end[i]!) - s,
        });
      }
    }
    if (end[i]! > maxEnd) {
      maxEnd = end[i]!;
      maxAt = i;
    }
  }
  return found;
}

/** Expected artefacts (cpython-gil-hooks.md §7, §8, §13): open ranges at trace end, `_exit` children. */
function artefacts(trace: LoadedTrace, gil: GilEvents, notes: Note[]): void {
  const lastHoldStart = new Map<number, number>();
  const lastWait = new Map<number, number>();
  const { holds, waits } = gil;
  for (let i = 0; i < holds.count; i++) {
    const t = holds.thread[i]!;
    lastHoldStart.set(t, holds.start[i]!);
    if (holds.open[i]) {
      const ref = threadRef(trace, t);
      const main = ref.tid === ref.pid;
      notes.push({
        kind: main ? 'open-final-hold' : 'open-hold',
        gil: gil.key,
        thread: ref,
        atNs: holds.start[i]!,
        message: main
          ? 'main thread took the GIL at exit and never released it (expected for Python ≤ 3.11, which does not release the GIL at finalization); the hold runs to trace end and is left out of the statistics'
          : 'hold still open at trace end (the thread or process ended without releasing, or the trace stopped first); left out of the statistics',
      });
    }
  }
  for (let i = 0; i < waits.count; i++) {
    const t = waits.thread[i]!;
    if (waits.open[i]) {
      notes.push({
        kind: 'open-wait',
        gil: gil.key,
        thread: threadRef(trace, t),
        atNs: waits.start[i]!,
        message: 'still waiting for the GIL at trace end (e.g. a daemon thread at interpreter exit); left out of the statistics',
      });
    } else {
      lastWait.set(t, i);
    }
  }
  for (const [t, i] of lastWait) {
    const holdStart = lastHoldStart.get(t) ?? -Infinity;
    // A wait ends where the thread's next hold starts; no hold at or after its end means the hold was lost.
    if (holdStart < waits.end[i]!) {
      notes.push({
        kind: 'wait-without-hold',
        gil: gil.key,
        thread: threadRef(trace, t),
        atNs: waits.end[i]!,
        message: "last Waiting is not followed by a Holding: expected for a forked child that left through os._exit (nsys drops a child's trailing events), or a thread that exited while waiting",
      });
    }
  }
}

export function validateTrace(trace: LoadedTrace, opts: { maxViolations?: number } = {}): Validation {
  const violations: OverlapViolation[] = [];
  const notes: Note[] = [];
  let violationCount = 0;
  let checkedHolds = 0;
  for (const gil of trace.gils) {
    checkedHolds += gil.holds.count;
    violationCount += overlaps(trace, gil, opts.maxViolations ?? 100, violations);
    artefacts(trace, gil, notes);
  }
  return { ok: violationCount === 0, checkedHolds, violationCount, violations, notes };
}
