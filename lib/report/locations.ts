// Where, in Python, a long hold began and ended and where a long wait began. The patched interpreter
// marks them itself (patches/src/ceval_gil_nvtx.h, "Where, in Python"): ASCII marks in the GIL domain,
// emitted by the thread while it holds the GIL, so that a hold's marks fall inside it on its own
// thread and a wait's mark comes right after the wait, at the start of the hold that ended it. They
// reach the trace through any NVTX tool, so this reads them by thread and time, not by range id.
import { nvtxTextSql } from './schema.js';
import { LOCATION_TEXT, type LocationKind } from '../gil-contract.js';
import type { LoadedTrace } from './model.js';
import type { PyLocation } from './types.js';
import { NsysEventType } from '../nsys/export-schema.js';

/** Parses one location mark's message; null for any other text. */
export function parseLocation(text: string): { kind: LocationKind; where: PyLocation } | null {
  const m = LOCATION_TEXT.exec(text);
  if (!m) return null;
  return { kind: m[1] as LocationKind, where: { function: m[2]!, file: m[3]!, line: Number(m[4]) } };
}

/** `hog() at seed.py:11`, with the file as the interpreter named it (or shortened by the caller). */
export function formatLocation(w: PyLocation, file: (path: string) => string = (p) => p): string {
  return `${w.function}() at ${file(w.file)}:${w.line}`;
}

/**
 * A wait's mark follows the wait's end by the few instructions between the range end and the mark;
 * the next wait's mark cannot come sooner than the next long wait, so the first mark in this window
 * is the wait's own.
 */
const WAIT_MARK_WINDOW_NS = 5_000_000;

interface Query {
  /** Thread (globalTid) whose marks count. */
  gt: number;
  from: number;
  to: number;
}

/** Location marks of the trace's GIL domains on each query's thread within its window, by query index. */
function marksIn(trace: LoadedTrace, queries: Query[]): { i: number; start: number; text: string }[][] {
  const found: { i: number; start: number; text: string }[][] = queries.map(() => []);
  if (queries.length === 0) return found;
  const { expr, join } = nvtxTextSql(trace.schema, 'n');
  const values = queries.map((q, i) => `(${i}, ${Math.trunc(q.gt)}, ${Math.trunc(q.from)}, ${Math.ceil(q.to)})`).join(', ');
  const sql =
    `WITH q(i, gt, s, e) AS (VALUES ${values}) ` +
    `SELECT q.i, n.start, ${expr} FROM NVTX_EVENTS AS n CROSS JOIN q ${join} ` +
    `WHERE n.eventType = ${NsysEventType.mark} AND (${trace.gilRowFilter('n')}) ` +
    `AND n.start >= ${Math.min(...queries.map((q) => Math.trunc(q.from)))} AND n.start <= ${Math.max(...queries.map((q) => Math.ceil(q.to)))} ` +
    'AND n.globalTid = q.gt AND n.start >= q.s AND n.start <= q.e ORDER BY n.start';
  for (const [i, start, text] of trace.db.prepare(sql).raw(true).all() as [number, number, string | null][]) {
    if (text !== null && text.startsWith('GIL ')) found[i]!.push({ i, start, text });
  }
  return found;
}

export interface HoldWhere {
  taken: PyLocation | null;
  released: PyLocation | null;
}

/** For each hold (its holder's globalTid and bounds), where it began and ended, as far as the trace says. */
export function holdLocations(trace: LoadedTrace, holds: { gt: number; s: number; e: number }[]): HoldWhere[] {
  return marksIn(trace, holds.map((h) => ({ gt: h.gt, from: h.s, to: h.e }))).map((marks) => {
    const out: HoldWhere = { taken: null, released: null };
    // The last of each kind: a hold has one of each; several would mean holds of nested GILs.
    for (const m of marks) {
      const p = parseLocation(m.text);
      if (p?.kind === 'taken') out.taken = p.where;
      else if (p?.kind === 'released') out.released = p.where;
    }
    return out;
  });
}

/** For each wait (the waiter's globalTid and the wait's end), where the waiter was when it began waiting. */
export function waitLocations(trace: LoadedTrace, waits: { gt: number; end: number }[]): (PyLocation | null)[] {
  return marksIn(trace, waits.map((w) => ({ gt: w.gt, from: w.end, to: w.end + WAIT_MARK_WINDOW_NS }))).map((marks) => {
    for (const m of marks) {
      const p = parseLocation(m.text);
      if (p?.kind === 'wait') return p.where;
    }
    return null;
  });
}
