// The verdict per long hold, from recorded watchdog samples: each of the four causes (and the quota case
// of the second) is told apart, since each calls for a different fix.
import { describe, expect, it } from 'vitest';
import { summarize } from '../../lib/report/holder-activity.js';

const MS = 1_000_000;
type Row = Parameters<typeof summarize>[0][number];

/** Samples every ms of a 100 ms hold from 10 ms on; `at(k)` gives sample k's counters and state. */
function hold(at: (k: number) => { exec: number; runq?: number; state: string; syscall?: number; majflt?: number; throttled?: number; periods?: number; wchan?: string }): Row[] {
  const rows: Row[] = [];
  for (let k = 0; k <= 90; k++) {
    const x = at(k);
    rows.push([1, 0, 10 * MS + k * MS, x.state, x.wchan ?? null, x.exec, x.runq ?? 0, 0, x.majflt ?? 0, x.syscall ?? -1, x.throttled ?? 0, x.periods ?? 0, 0, 0, 0]);
  }
  return rows;
}

describe('holder activity: what a long GIL holder was doing', () => {
  it('on a CPU: C code computing without releasing the GIL', () => {
    const a = summarize(hold((k) => ({ exec: k * 0.98 * MS, state: 'R' })), 100 * MS)!;
    expect(a.verdict).toBe('on-cpu');
    expect(a.summary).toMatch(/^holder on a CPU 98\.0% of the sampled 90\.0 ms/);
  });

  it('runnable, waiting for a CPU: other work had it', () => {
    const a = summarize(hold((k) => ({ exec: k * 0.1 * MS, runq: k * 0.9 * MS, state: 'R' })), 100 * MS)!;
    expect(a.verdict).toBe('waiting-for-cpu');
    expect(a.summary).toMatch(/waiting for a CPU 90\.0% .*run-queue delay 81\.0 ms/);
  });

  it('throttled by the cgroup CPU quota when the throttling counters moved', () => {
    const a = summarize(hold((k) => ({ exec: k * 0.2 * MS, runq: k * 0.8 * MS, state: 'R', throttled: k * 0.7 * MS, periods: Math.floor(k / 10) })), 100 * MS)!;
    expect(a.verdict).toBe('throttled');
    expect(a.summary).toMatch(/throttled by its cgroup's CPU quota: 63\.0 ms throttled in 9 period/);
  });

  it('blocked in a system call, named, with its state', () => {
    const a = summarize(hold(() => ({ exec: 0, state: 'S', syscall: 75, wchan: 'jbd2_log_wait_c' })), 100 * MS)!;
    expect(a.verdict).toBe('blocked-in-syscall');
    expect(a.syscalls[0]).toEqual({ name: 'fdatasync', samples: 91, state: 'S' });
    expect(a.summary).toMatch(/^holder blocked in fdatasync \(state S\) 100\.0% of the sampled 90\.0 ms — a C call that blocks/);
  });

  it('page faults waiting for I/O: major faults in D state', () => {
    const a = summarize(hold((k) => ({ exec: k * 0.05 * MS, state: k % 3 ? 'D' : 'R', majflt: Math.floor(k / 5), wchan: 'folio_wait_bit' })), 100 * MS)!;
    expect(a.verdict).toBe('page-faults');
    expect(a.majorFaults).toBe(18);
    expect(a.summary).toMatch(/^holder in page faults waiting for I\/O: 18 major fault\(s\) \(0\.2 per ms\), state D 65\.9%/);
  });

  it('page faults waiting for I/O: many major faults, even with the holder mostly on a CPU in the fault path', () => {
    // As recorded on these machines (the founding-case scenario): 47% on a CPU, D in a quarter of the
    // samples, 4099 major faults in 373 ms. Each fault is a disk read, so they are the hold.
    const a = summarize(hold((k) => ({ exec: k * 0.47 * MS, state: k % 4 ? 'R' : 'D', majflt: k * 45 })), 100 * MS)!;
    expect(a.verdict).toBe('page-faults');
    expect(a.summary).toMatch(/^holder in page faults waiting for I\/O: 4050 major fault\(s\) \(45\.0 per ms\), state D 25\.3%/);
    // A few faults in a computing hold do not make it one.
    expect(summarize(hold((k) => ({ exec: k * 0.95 * MS, state: k % 10 ? 'R' : 'D', majflt: Math.floor(k / 30) })), 100 * MS)!.verdict).toBe('on-cpu');
  });

  it('ignores samples read after the thread ended, and says nothing from none', () => {
    const rows = hold((k) => ({ exec: k * MS, state: 'R' }));
    rows.push([1, 0, 101 * MS, '?', null, null, null, null, null, null, null, null, null, null, null]);
    expect(summarize(rows, 100 * MS)!.samples).toBe(91);
    expect(summarize([[1, 0, 5, '?', null, null, null, null, null, null, null, null, null, null, null]], 100 * MS)).toBeNull();
  });
});
