// The analysis result. `--json` prints exactly this object (docs/report.md documents it), so every
// change here is a schema change: add fields freely, but renaming or removing one bumps REPORT_SCHEMA.
// All times are integers in nanoseconds on the trace's clock.

export const REPORT_SCHEMA = 'gil-nvtx.report/1';

export interface ThreadRef {
  pid: number;
  tid: number;
  name: string;
}

export interface Distribution {
  count: number;
  totalNs: number;
  meanNs: number;
  p50Ns: number;
  p95Ns: number;
  p99Ns: number;
  maxNs: number;
}

export interface HoldRef {
  thread: ThreadRef;
  startNs: number;
  endNs: number;
}

export interface OverlapViolation {
  gil: string;
  pid: number;
  interpreterId: number;
  /** The earlier hold, still open when `second` began. */
  first: HoldRef;
  second: HoldRef;
  overlapNs: number;
}

export type NoteKind = 'open-final-hold' | 'open-hold' | 'open-wait' | 'wait-without-hold';

/** Something the instrumentation produces on purpose or unavoidably: reported, not an error. */
export interface Note {
  kind: NoteKind;
  gil: string;
  thread: ThreadRef;
  atNs: number;
  message: string;
}

export interface Validation {
  ok: boolean;
  checkedHolds: number;
  violationCount: number;
  /** At most `maxViolations` (default 100) of them, earliest first. */
  violations: OverlapViolation[];
  notes: Note[];
}

export interface ThreadStats {
  thread: ThreadRef;
  holds: Distribution;
  waits: Distribution;
  openHolds: number;
  openWaits: number;
  /** Drop requests this thread made (it waited a full switch interval and asked the holder to drop). */
  dropRequests: number;
  /** This thread's share of the GIL's total hold time. */
  holdShare: number;
}

export interface GilStats {
  gil: string;
  pid: number;
  processName: string;
  interpreterId: number;
  firstNs: number;
  lastNs: number;
  spanNs: number;
  holds: Distribution;
  waits: Distribution;
  /** Σ hold time / span. */
  utilisation: number;
  /** Time during which at least one thread was waiting. */
  contendedNs: number;
  contention: number;
  /** Drop-request marks: a waiter timed out after the switch interval and forced the holder to release. */
  forcedSwitches: number;
  /** Release → next acquire, for releases that happened while someone was waiting. */
  handoff: Distribution;
  threads: ThreadStats[];
}

export interface OsCall {
  thread: ThreadRef;
  name: string;
  startNs: number;
  endNs: number;
  durationNs: number;
  /** Part of the call inside the hold. */
  overlapNs: number;
}

export interface Waiter {
  thread: ThreadRef;
  waitStartNs: number;
  waitEndNs: number;
  waitNs: number;
  /** Part of the wait inside the hold. */
  blockedNs: number;
  open: boolean;
}

export type CpuState = 'on-cpu' | 'partly-off-cpu' | 'off-cpu' | 'unknown';

export interface HolderCpu {
  /** Where the answer comes from: nsys `--cpuctxsw` (SCHED_EVENTS), the collector's per-range CPU time, or nowhere. */
  source: 'sched-events' | 'collector-cpu-time' | 'none';
  onCpuNs: number | null;
  onCpuFraction: number | null;
  state: CpuState;
}

export interface ConcurrentRange {
  domain: string;
  name: string;
  pid: number;
  processName: string;
  thread: ThreadRef;
  startNs: number;
  endNs: number | null;
}

export interface BlamedHold {
  rank: number;
  gil: string;
  pid: number;
  processName: string;
  interpreterId: number;
  thread: ThreadRef;
  startNs: number;
  endNs: number;
  durationNs: number;
  waiterCount: number;
  /** Σ blockedNs over the waiters. */
  blockedNs: number;
  waiters: Waiter[];
  dropRequestsDuring: number;
  holderCpu: HolderCpu;
  /** null when the trace has no OSRT_API table (profile with `-t nvtx,osrt`). */
  holderOsCalls: OsCall[] | null;
  otherOsCalls: OsCall[] | null;
  /** NVTX ranges outside the GIL domain in flight during the hold (any process), e.g. Node requests. */
  concurrentRanges: ConcurrentRange[];
}

export interface HoldDuringRange {
  gil: string;
  pid: number;
  processName: string;
  thread: ThreadRef;
  startNs: number;
  endNs: number;
  durationNs: number;
  /** Part of the hold inside the range. */
  overlapNs: number;
}

/**
 * One of the slowest instances of a repeated operation outside the GIL domain (a Node request, a job),
 * with the GIL holds in progress while it ran: the reverse view of `BlamedHold.concurrentRanges`.
 */
export interface SlowRange {
  rank: number;
  domain: string;
  name: string;
  pid: number;
  processName: string;
  thread: ThreadRef;
  startNs: number;
  endNs: number;
  durationNs: number;
  /** How many ranges of this name (domain, process) the trace has, and their median duration. */
  instances: number;
  medianNs: number;
  /** Σ overlapNs of every GIL hold during the range, all GILs of all processes. */
  gilHeldNs: number;
  /** The holds in progress during the range, longest overlap first (at most `maxHolds`). */
  holds: HoldDuringRange[];
}

export interface ProcessSummary {
  pid: number;
  name: string;
  threads: number;
  gils: string[];
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  generator: { name: 'gil-nvtx'; version: string };
  source: string;
  producer: { name: string; version: string | null };
  trace: { startNs: number; endNs: number };
  options: { top: number; minHoldNs: number };
  sources: { osrt: boolean; sched: boolean; collectorCpu: boolean };
  processes: ProcessSummary[];
  validation: Validation;
  gils: GilStats[];
  blame: BlamedHold[];
  /** Slowest repeated non-GIL ranges (latency outliers) and the holds during them; longest first. */
  slowRanges: SlowRange[];
}
