// The analysis result. `--json` prints exactly this object (docs/report.md documents it), so every
// change here is a schema change: add fields freely, but renaming or removing one bumps REPORT_SCHEMA.
// All times are integers in nanoseconds on the trace's clock.

import type { BadRows } from './model.js';

export const REPORT_SCHEMA = 'gil-nvtx.report/2';

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
  /** GIL rows left out because no instrumentation writes them (a damaged or edited export). */
  badRows: BadRows;
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

/** A place in Python code, as the patched interpreter's location marks name it. */
export interface PyLocation {
  /** Qualified name on 3.11+, plain name before. */
  function: string;
  file: string;
  line: number;
}

export interface Waiter {
  thread: ThreadRef;
  waitStartNs: number;
  waitEndNs: number;
  waitNs: number;
  /** Part of the wait inside the hold. */
  blockedNs: number;
  open: boolean;
  /** Where the waiter was when it began to wait (waits past the interpreter's location threshold). */
  where: PyLocation | null;
}

export type CpuState = 'on-cpu' | 'partly-off-cpu' | 'off-cpu' | 'unknown';

export interface HolderCpu {
  /** Where the answer comes from: nsys `--cpuctxsw` (SCHED_EVENTS), the collector watchdog's samples of long holds, or nowhere. */
  source: 'sched-events' | 'watchdog-samples' | 'none';
  onCpuNs: number | null;
  onCpuFraction: number | null;
  state: CpuState;
}

/** Why a long hold lasted: the four causes call for four different fixes. */
export type HolderVerdict = 'on-cpu' | 'waiting-for-cpu' | 'throttled' | 'blocked-in-syscall' | 'page-faults' | 'mixed' | 'unknown';

/**
 * What the holder did during the part of a long hold the collector's watchdog sampled (from its first
 * sample, once the hold passed the watchdog's threshold, to its last). Counter differences over that
 * span; null where the counter could not be read.
 */
/** The verdict of a long hold and the one line that says it, with where it came from. */
export interface Why {
  verdict: HolderVerdict;
  summary: string;
  source: 'watchdog-samples' | 'osrt' | 'sched-events' | 'none';
}

export interface HolderActivity {
  samples: number;
  fromNs: number;
  toNs: number;
  sampledNs: number;
  holdNs: number;
  /** /proc schedstat: on a CPU; runnable, waiting for one. */
  onCpuNs: number | null;
  runQueueNs: number | null;
  /** The process's CPU cgroup (v1 cpu.stat throttled_time / v2 throttled_usec), and throttled periods. */
  throttledNs: number | null;
  throttledPeriods: number | null;
  minorFaults: number | null;
  majorFaults: number | null;
  /** Samples per scheduler state letter (R running or runnable, S sleeping, D uninterruptible, …). */
  states: Record<string, number>;
  /** System calls the holder sat in while blocked (S or D), most samples first. */
  syscalls: { name: string; samples: number; state: string }[];
  wchan: { name: string; samples: number }[];
  /** /proc/pressure "some" time over the span, µs; null without PSI. */
  pressureUs: { cpu: number; io: number; memory: number } | null;
  verdict: HolderVerdict;
  /** One line a person can act on. */
  summary: string;
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
  /** Where in Python the hold began and ended; null parts when the trace has no location marks for it. */
  where: { taken: PyLocation | null; released: PyLocation | null };
  holderCpu: HolderCpu;
  /** What the holder was doing, from the best the trace has (watchdog samples, else OSRT_API / SCHED_EVENTS). */
  why: Why;
  /** The watchdog's account of the hold (collector traces, holds past its threshold); null otherwise. */
  holder: HolderActivity | null;
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
 * A job that served a range: work the range sent to another process (through a correlation id, see
 * `currentCorrelationId`), which ran in a range of its own on the thread that served it.
 */
export interface ServedBy {
  /** The job's own range (on the serving thread). */
  domain: string;
  name: string;
  /** The payload both sides share. */
  correlationId: number;
  pid: number;
  processName: string;
  thread: ThreadRef;
  startNs: number;
  endNs: number;
  durationNs: number;
  /** From the start of the range that sent the job to the job's own start (queues, pipes); null when the sender is not in the trace. */
  queuedNs: number | null;
  /** How long the serving thread waited for its GIL during the job, and held it (Σ of its holds' parts inside the job). */
  gilWaitNs: number;
  gilHeldNs: number;
  /** The serving thread's own longest hold during the job (a job that stalls everyone else itself), and where in Python it began and ended. */
  longestHold: { startNs: number; endNs: number; holdNs: number; taken: PyLocation | null; released: PyLocation | null } | null;
  /**
   * The hold by another thread of that GIL it waited behind longest during the job, and where in Python
   * the holder was (where it released the GIL, else where it took it; null without location marks).
   */
  stalledBy: {
    thread: ThreadRef;
    holdStartNs: number;
    holdEndNs: number;
    holdNs: number;
    /** Part of the serving thread's waits inside this hold. */
    blockedNs: number;
    where: PyLocation | null;
  } | null;
  /**
   * The longest hold of the serving process's GIL, by any thread, while the job was on its way (between
   * its sender's start and its own): a worker whose reader thread waits for the GIL does not pick jobs up.
   * Fields as in `stalledBy` (`blockedNs`: the part inside that interval).
   */
  queuedBehind: ServedBy['stalledBy'];
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
  /**
   * How long the Node event loop of the range's thread was blocked while it ran (Σ overlap of the blocks
   * `instrumentEventLoop()` recorded, and how many); null when that process did not record blocks.
   */
  eventLoop: { blockedNs: number; blocks: number } | null;
  /**
   * The jobs the range sent to other processes and the threads that ran them, when the trace carries
   * correlation ids (an empty list: it does, but none for this range); null when it carries none, and
   * `holds` (overlap in time, any process) is all there is.
   */
  servedBy: ServedBy[] | null;
}

export interface ProcessSummary {
  pid: number;
  name: string;
  threads: number;
  gils: string[];
}

/** Which producer's GIL ranges the report analysed (lib/report/gil-sources.ts). */
export interface GilSourceReport {
  id: 'patch' | 'nsys';
  /** The NVTX domain the ranges were read from. */
  domain: string;
  label: string;
  /** What the source's ranges carry; where false, the numbers that depend on it are not known. */
  carries: { interpreterId: boolean; dropRequests: boolean; unblockedWaits: boolean };
  /** One sentence per missing piece, for people reading the report. */
  gaps: string[];
  /** Other GIL sources in the same trace, not analysed in this report (`--gil-source` picks one). */
  others: { id: 'patch' | 'nsys'; domain: string; label: string; ranges: number }[];
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  generator: { name: 'gil-nvtx'; version: string };
  source: string;
  producer: { name: string; version: string | null };
  /** droppedEvents: events the recorder lost (a full disk); > 0 means the statistics miss them. */
  trace: { startNs: number; endNs: number; droppedEvents: number };
  options: { top: number; minHoldNs: number };
  sources: { osrt: boolean; sched: boolean; holdSamples: boolean };
  /** Where the GIL ranges came from; null only for a trace without any (Perfetto export of a Node-only trace). */
  gilSource: GilSourceReport | null;
  processes: ProcessSummary[];
  validation: Validation;
  gils: GilStats[];
  blame: BlamedHold[];
  /** Slowest repeated non-GIL ranges (latency outliers) and the holds during them; longest first. */
  slowRanges: SlowRange[];
}
