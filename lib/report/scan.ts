// Analyses as passes over the GIL scans. Each scan re-reads the trace (about a second per two million
// ranges), so `analyzeTrace` feeds validation, statistics, the longest-hold search and the slow-range
// holds from one scan per GIL instead of one each.
import type { GilRanges, GilVisitor, LoadedTrace } from './model.js';

export interface GilPassScan {
  visit: GilVisitor;
  /** After the GIL's last event. */
  done?: () => void;
}

export interface GilPass {
  /** Called before GIL number `index` is scanned; null when this pass needs nothing from it. */
  gil(gil: GilRanges, index: number): GilPassScan | null;
}

/** Scans every GIL of the trace once, each event going to every pass that wants the GIL. */
export function scanGils(trace: LoadedTrace, passes: GilPass[]): void {
  trace.gils.forEach((gil, index) => scanGil(gil, index, passes));
}

export function scanGil(gil: GilRanges, index: number, passes: GilPass[]): void {
  const scans = passes.map((p) => p.gil(gil, index)).filter((s): s is GilPassScan => s !== null);
  if (scans.length === 0) return;
  const visits = scans.map((s) => s.visit);
  if (visits.length === 1) gil.scan(visits[0]!);
  else if (visits.length === 2) {
    const [a, b] = visits as [GilVisitor, GilVisitor];
    gil.scan((k, s, e, t, o) => {
      a(k, s, e, t, o);
      b(k, s, e, t, o);
    });
  } else {
    gil.scan((k, s, e, t, o) => {
      for (let i = 0; i < visits.length; i++) visits[i]!(k, s, e, t, o);
    });
  }
  for (const s of scans) s.done?.();
}
