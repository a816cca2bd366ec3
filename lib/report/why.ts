// One verdict per long hold, whatever the trace holds: the collector watchdog's samples when there are
// any (holder-activity.ts, the full account), else what an nsys export has — the holder's own OS calls
// (OSRT_API) and its scheduling (SCHED_EVENTS) — and otherwise a line that says what is missing.
import type { BlamedHold, HolderVerdict, Why } from './types.js';
import { fmtDuration, fmtPercent } from './units.js';

/** An OS call of the holder covering this share of the hold is what the hold was. */
const CALL_SHARE = 0.5;

export function whyOf(b: Pick<BlamedHold, 'durationNs' | 'holder' | 'holderCpu' | 'holderOsCalls'>): Why {
  if (b.holder) return { verdict: b.holder.verdict, summary: b.holder.summary, source: 'watchdog-samples' };
  const span = b.durationNs;
  const top = b.holderOsCalls?.[0];
  if (top && span > 0 && top.overlapNs >= CALL_SHARE * span) {
    const share = Math.min(1, top.overlapNs / span);
    const verdict: HolderVerdict = 'blocked-in-syscall';
    return { verdict, summary: `holder in ${top.name} ${fmtPercent(share)} of the hold (OSRT_API) — a C call that blocks without releasing the GIL`, source: 'osrt' };
  }
  const cpu = b.holderCpu;
  if (cpu.source === 'sched-events' && cpu.onCpuFraction !== null) {
    if (cpu.onCpuFraction >= 0.8) {
      return { verdict: 'on-cpu', summary: `holder on a CPU ${fmtPercent(cpu.onCpuFraction)} of the hold (SCHED_EVENTS) — computing without releasing the GIL (a C call or extension)`, source: 'sched-events' };
    }
    return { verdict: 'unknown', summary: `holder off a CPU ${fmtPercent(1 - cpu.onCpuFraction)} of the hold (SCHED_EVENTS), in no traced OS call: why it was off (a page fault, a CPU quota, another process) needs the collector's watchdog`, source: 'sched-events' };
  }
  if (b.holderOsCalls !== null) {
    const covered = (b.holderOsCalls ?? []).reduce((a, o) => a + o.overlapNs, 0);
    return {
      verdict: 'unknown',
      summary: `holder in no traced OS call for ${fmtDuration(Math.max(0, span - covered))} of ${fmtDuration(span)}: most likely computing in C holding the GIL; on or off a CPU unknown (no SCHED_EVENTS, no watchdog samples)`,
      source: 'osrt',
    };
  }
  return { verdict: 'unknown', summary: 'unknown: no watchdog samples, OS calls or scheduling in this trace (trace with gil-nvtx trace, or nsys -t nvtx,osrt)', source: 'none' };
}
