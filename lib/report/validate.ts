// The invariant the GIL patch promises (docs/gil-patches.md): holds of one GIL never overlap, because both
// transitions are emitted inside gil->mutex. An overlap means broken instrumentation (the naive
// MUTEX_LOCK patch) — so this runs before any statistic is trusted.
import { GilEventKind, threadNameOf, type GilRanges, type GilVisitor, type LoadedTrace } from './model.js';
import { scanGils, type GilPass, type GilPassScan } from './scan.js';
import type { Note, OverlapViolation, ThreadRef, Validation } from './types.js';
import { pidOf, tidOf } from '../nsys/export-schema.js';

export function threadRef(trace: LoadedTrace, index: number): ThreadRef {
  const t = trace.threads[index]!;
  return { pid: t.pid, tid: t.tid, name: t.name };
}

/** Any thread of the trace by its globalTid, GIL thread or not (a Node thread, say). */
export function threadRefOf(trace: LoadedTrace, globalTid: number): ThreadRef {
  const pid = pidOf(globalTid);
  const tid = tidOf(globalTid);
  return { pid, tid, name: threadNameOf(trace.threadNames, globalTid, pid, tid) };
}

const OPEN_FINAL_HOLD =
  'main thread took the GIL at exit and never released it (expected for Python ≤ 3.11, which does not release the GIL at finalization); the hold runs to trace end and is left out of the statistics';
const OPEN_HOLD = 'hold still open at trace end (the thread or process ended without releasing, or the trace stopped first); left out of the statistics';
const OPEN_WAIT = 'still waiting for the GIL at trace end (e.g. a daemon thread at interpreter exit); left out of the statistics';
const WAIT_WITHOUT_HOLD =
  "last Waiting is not followed by a Holding: expected for a forked child that left through os._exit (nsys drops a child's trailing events), or a thread that exited while waiting";

/**
 * Overlapping holds and the expected artefacts (docs/gil-patches.md, "Caveats": open ranges at trace
 * end, `_exit` children), from one scan per GIL. Memory: the violations kept, the notes, two numbers per thread.
 */
export class ValidationPass implements GilPass {
  readonly violations: OverlapViolation[] = [];
  readonly notes: Note[] = [];
  violationCount = 0;
  checkedHolds = 0;
  constructor(
    private readonly trace: LoadedTrace,
    private readonly maxViolations = 100,
  ) {}

  gil(gil: GilRanges): GilPassScan {
    const { trace, violations } = this;
    this.checkedHolds += gil.counts.holds;
    // The hold reaching furthest so far: a hold starting before its end overlaps it.
    let maxEnd = -Infinity;
    let maxStart = 0;
    let maxThread = -1;
    const holdNotes: Note[] = [];
    const waitNotes: Note[] = [];
    const lastHoldStart = new Map<number, number>();
    // Per thread, where its last closed wait ended (in order of each thread's first closed wait).
    const lastWaitEnd = new Map<number, number>();
    const visit: GilVisitor = (kind, s, e, t, open) => {
      if (kind === GilEventKind.hold) {
        if (s < maxEnd) {
          this.violationCount++;
          if (violations.length < this.maxViolations) {
            violations.push({
              gil: gil.key,
              pid: gil.pid,
              interpreterId: gil.interpreterId,
              first: { thread: threadRef(trace, maxThread), startNs: maxStart, endNs: maxEnd },
              second: { thread: threadRef(trace, t), startNs: s, endNs: e },
              overlapNs: Math.min(maxEnd, e) - s,
            });
          }
        }
        if (e > maxEnd) {
          maxEnd = e;
          maxStart = s;
          maxThread = t;
        }
        lastHoldStart.set(t, s);
        if (open) {
          const ref = threadRef(trace, t);
          const main = ref.tid === ref.pid;
          holdNotes.push({ kind: main ? 'open-final-hold' : 'open-hold', gil: gil.key, thread: ref, atNs: s, message: main ? OPEN_FINAL_HOLD : OPEN_HOLD });
        }
      } else if (kind === GilEventKind.wait) {
        if (open) waitNotes.push({ kind: 'open-wait', gil: gil.key, thread: threadRef(trace, t), atNs: s, message: OPEN_WAIT });
        else lastWaitEnd.set(t, e);
      }
    };
    const done = () => {
      this.notes.push(...holdNotes, ...waitNotes);
      for (const [t, end] of lastWaitEnd) {
        // A wait ends where the thread's next hold starts; no hold at or after its end means the hold was lost.
        if ((lastHoldStart.get(t) ?? -Infinity) < end) {
          this.notes.push({ kind: 'wait-without-hold', gil: gil.key, thread: threadRef(trace, t), atNs: end, message: WAIT_WITHOUT_HOLD });
        }
      }
    };
    return { visit, done };
  }

  result(): Validation {
    return { ok: this.violationCount === 0, checkedHolds: this.checkedHolds, violationCount: this.violationCount, violations: this.violations, notes: this.notes, badRows: this.trace.badRows };
  }
}

export function validateTrace(trace: LoadedTrace, opts: { maxViolations?: number } = {}): Validation {
  const pass = new ValidationPass(trace, opts.maxViolations);
  scanGils(trace, [pass]);
  return pass.result();
}
