// The verdict line of a long hold from whatever the trace has: watchdog samples first, then an nsys
// export's OS calls and scheduling, else a line that says what is missing.
import { describe, expect, it } from 'vitest';
import type { HolderActivity, HolderCpu, OsCall } from '../../lib/report/types.js';
import { whyOf } from '../../lib/report/why.js';

const MS = 1_000_000;
const noCpu: HolderCpu = { source: 'none', onCpuNs: null, onCpuFraction: null, state: 'unknown' };
const call = (name: string, overlapNs: number): OsCall => ({ thread: { pid: 1, tid: 2, name: 't' }, name, startNs: 0, endNs: overlapNs, durationNs: overlapNs, overlapNs });

describe('why a long hold lasted, from any trace', () => {
  it('takes the watchdog verdict when there is one', () => {
    const holder = { verdict: 'page-faults', summary: 'holder in page faults…' } as HolderActivity;
    expect(whyOf({ durationNs: 100 * MS, holder, holderCpu: noCpu, holderOsCalls: null })).toEqual({ verdict: 'page-faults', summary: 'holder in page faults…', source: 'watchdog-samples' });
  });

  it('names the holder OS call that covers most of the hold (nsys -t osrt)', () => {
    const w = whyOf({ durationNs: 200 * MS, holder: null, holderCpu: noCpu, holderOsCalls: [call('usleep', 199 * MS), call('mmap64', 1000)] });
    expect(w).toMatchObject({ verdict: 'blocked-in-syscall', source: 'osrt' });
    expect(w.summary).toBe('holder in usleep 99.5% of the hold (OSRT_API) — a C call that blocks without releasing the GIL');
  });

  it('an OS call covering less than half the hold is not the reason', () => {
    const w = whyOf({ durationNs: 200 * MS, holder: null, holderCpu: noCpu, holderOsCalls: [call('read', 60 * MS)] });
    expect(w.verdict).toBe('unknown');
    expect(w.summary).toMatch(/^holder in no traced OS call for 140\.0 ms of 200\.0 ms: most likely computing in C/);
  });

  it('uses SCHED_EVENTS when nsys recorded them', () => {
    const on: HolderCpu = { source: 'sched-events', onCpuNs: 95 * MS, onCpuFraction: 0.95, state: 'on-cpu' };
    expect(whyOf({ durationNs: 100 * MS, holder: null, holderCpu: on, holderOsCalls: [] })).toMatchObject({ verdict: 'on-cpu', source: 'sched-events' });
    const off: HolderCpu = { source: 'sched-events', onCpuNs: 10 * MS, onCpuFraction: 0.1, state: 'off-cpu' };
    expect(whyOf({ durationNs: 100 * MS, holder: null, holderCpu: off, holderOsCalls: [] }).summary).toMatch(/^holder off a CPU 90\.0% of the hold \(SCHED_EVENTS\), in no traced OS call/);
  });

  it('says what is missing when the trace has nothing to go on', () => {
    expect(whyOf({ durationNs: 100 * MS, holder: null, holderCpu: noCpu, holderOsCalls: null })).toMatchObject({ verdict: 'unknown', source: 'none' });
  });
});
