// What the merge knows of a collector trace's GIL rows as it writes them, kept in GILNVTX_META: the
// GILs with their counts, the threads in order of their first GIL row, the time bounds. With it the
// report skips the pass that would find these out (a read of every GIL row: a third of its time on a
// long trace). The summary describes the rows exactly as the report's own pass would see them; a
// trace whose GIL rows that pass would treat specially (out of start order, a range without an end,
// an end before its start) gets none. The reader trusts it only while NVTX_EVENTS ends at the rowid it
// names, and its scans check the rest (`source-sqlite.ts`).
import { DROP_REQUEST_MESSAGE, HOLDING_MESSAGE, WAITING_MESSAGE } from '../gil-contract.js';

export const GIL_SUMMARY_KEY = 'gilSummary';
export const GIL_SUMMARY_VERSION = 1;

export interface GilSummaryEntry {
  pid: number;
  interpreterId: number;
  holds: number;
  waits: number;
  drops: number;
}

export interface GilSummary {
  version: number;
  /**
   * NVTX_EVENTS rowids: the merge writes every GIL-domain event row (and nothing else) from
   * `gilRowidMin` on, after all other rows; `maxRowid` is the table's last when the summary was written.
   */
  gilRowidMin: number;
  maxRowid: number;
  /** globalTid of every thread with a GIL event, in order of its first one (rowid order). */
  threads: number[];
  /** Sorted by pid, then interpreter id. */
  gils: GilSummaryEntry[];
  /** Earliest GIL event start and latest wait or hold end; null without one. */
  firstStart: number | null;
  lastEnd: number | null;
}

/** The GIL event kind of a message (`GilEventKind`), or -1 for any other text in the GIL domain. */
export function gilMessageKind(text: string | null): number {
  return text === WAITING_MESSAGE ? 0 : text === HOLDING_MESSAGE ? 1 : text === DROP_REQUEST_MESSAGE ? 2 : -1;
}

/** Collects the summary from the GIL rows in the order they are inserted. */
export class GilSummaryBuilder {
  private readonly threads: number[] = [];
  private readonly seen = new Set<number>();
  private readonly gils = new Map<string, GilSummaryEntry & { lastStart: number }>();
  private firstStart = Infinity;
  private lastEnd = -Infinity;
  private lastGt = NaN;
  private last: (GilSummaryEntry & { lastStart: number }) | undefined;
  /** False once a row needs the report's own handling: then no summary is written. */
  usable = true;

  /** One GIL-domain row: `kind` from `gilMessageKind`, `payload` as its NVTX_EVENTS payload column holds it (0 without one). */
  add(kind: number, pid: number, gt: number, payload: number, start: number, end: number | null): void {
    if (kind < 0 || !this.usable) return;
    if (gt !== this.lastGt) {
      this.lastGt = gt;
      if (!this.seen.has(gt)) {
        this.seen.add(gt);
        this.threads.push(gt);
      }
    }
    // Rows of one GIL come in runs: the key is built only when the GIL changes.
    let g = this.last;
    if (!g || g.pid !== pid || g.interpreterId !== payload) {
      const key = `${pid}/${payload}`;
      g = this.gils.get(key);
      if (!g) this.gils.set(key, (g = { pid, interpreterId: payload, holds: 0, waits: 0, drops: 0, lastStart: -Infinity }));
      this.last = g;
    }
    if (!Number.isSafeInteger(payload) || payload < 0 || start < g.lastStart) {
      this.usable = false;
      return;
    }
    g.lastStart = start;
    if (start < this.firstStart) this.firstStart = start;
    if (kind === 2) {
      g.drops++;
      return;
    }
    if (end === null || end < start) {
      this.usable = false;
      return;
    }
    if (kind === 1) g.holds++;
    else g.waits++;
    if (end > this.lastEnd) this.lastEnd = end;
  }

  /** The summary of a table whose GIL rows are rowids `gilRowidMin`..`maxRowid`, or null when the rows need the report's own pass. */
  result(gilRowidMin: number, maxRowid: number): GilSummary | null {
    if (!this.usable) return null;
    return {
      version: GIL_SUMMARY_VERSION,
      gilRowidMin,
      maxRowid,
      threads: this.threads,
      gils: [...this.gils.values()].map(({ lastStart: _, ...g }) => g).sort((a, b) => a.pid - b.pid || a.interpreterId - b.interpreterId),
      firstStart: Number.isFinite(this.firstStart) ? this.firstStart : null,
      lastEnd: Number.isFinite(this.lastEnd) ? this.lastEnd : null,
    };
  }
}

/** The summary in `json` when it is one this gil-nvtx reads, else null. */
export function parseGilSummary(json: string | undefined): GilSummary | null {
  if (!json) return null;
  try {
    const s = JSON.parse(json) as GilSummary;
    if (s?.version !== GIL_SUMMARY_VERSION || !Array.isArray(s.threads) || !Array.isArray(s.gils)) return null;
    if (!Number.isSafeInteger(s.gilRowidMin) || !Number.isSafeInteger(s.maxRowid)) return null;
    return s;
  } catch {
    return null;
  }
}
