// Small shared formatting helpers for the text and HTML reports.

/** A duration in ns as a short human string: 850 ns, 12.3 µs, 4.56 ms, 1.23 s. */
export function fmtDuration(ns: number): string {
  const a = Math.abs(ns);
  if (a < 1_000) return `${Math.round(ns)} ns`;
  if (a < 1_000_000) return `${(ns / 1_000).toFixed(a < 10_000 ? 2 : 1)} µs`;
  if (a < 1_000_000_000) return `${(ns / 1_000_000).toFixed(a < 10_000_000 ? 2 : 1)} ms`;
  return `${(ns / 1_000_000_000).toFixed(2)} s`;
}

/** A point in time relative to the trace start, in ms with µs resolution. */
export function fmtAt(ns: number, traceStart: number): string {
  return `+${((ns - traceStart) / 1_000_000).toFixed(3)} ms`;
}

export function fmtPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/**
 * Names come from the trace, which anyone can write: never let one drive the terminal
 * (escape sequences) or break a line. Control characters become \xNN.
 */
export function safeText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
