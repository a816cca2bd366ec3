// GIL ranges from NVTX_EVENTS (nsys exports and the collector's trace.sqlite). One pass at load time
// counts the ranges, numbers the threads and checks the row order; each `scan` then re-reads the GIL's
// rows, so memory stays bounded however long the trace is. A collector trace whose merge summarised
// its GIL rows (`lib/trace/gil-summary.ts`) skips that pass: its scans check the summary as they go.
// Which re-read depends on the order found:
//  - rows in start order by rowid (nsys 2022.4 exports, and the collector's merge, which writes each
//    GIL's rows in start order): rowid windows, the cheapest read;
//  - otherwise, with an index on `start`: `ORDER BY start` walks the index;
//  - otherwise: the GIL's events are read once in start order and kept in typed columns.
import type Database from 'better-sqlite3';
import { DROP_REQUEST_MESSAGE, HOLDING_MESSAGE, LOCATION_TEXT_LIKE, WAITING_MESSAGE } from '../gil-contract.js';
import { type BadRows, type GilRanges, type GilSource, type GilVisitor } from './model.js';
import { type TraceSchema } from './schema.js';
import { NsysEventType, pidOf, pidOfSql, tidOf, tidOfSql } from '../nsys/export-schema.js';
import { GIL_SUMMARY_KEY, parseGilSummary, type GilSummary } from '../trace/gil-summary.js';
import { GilNvtxError } from '../errors.js';

/** What any GIL range source may read; `readTrace` builds it. */
export interface GilSourceContext {
  db: Database.Database;
  schema: TraceSchema;
  /** The file the user named, for messages. */
  source: string;
  /** The SQLite file being read; a source with files of its own finds them beside it. */
  sqlitePath: string;
  /** The GIL domain of each process that has one (domain ids are per process). */
  domains: { domainId: number; pid: number }[];
  /** The merge's summary of the GIL rows (`readGilSummary`), when the trace has a valid one. */
  summary?: GilSummary | null;
  onProgress?: (line: string) => void;
}

/** A GIL scan found rows other than the merge's summary says: the file changed after the merge. */
export class StaleGilSummaryError extends GilNvtxError {
  constructor(source: string, what: string) {
    super(`${source}: the GIL rows changed after the merge (${what}).`, {
      hint: 'Load it with `ignoreGilSummary: true` (`gil-nvtx report` does so by itself).',
    });
    this.name = 'StaleGilSummaryError';
  }
}

/**
 * The merge's summary of the GIL rows, when `db` has one this gil-nvtx reads and NVTX_EVENTS still ends
 * at the rowid it was written for (nothing appended); else null. Rows changed, deleted or inserted in
 * place are for the scans to find (they count every GIL row they read): a count(*) here would scan
 * the whole table.
 */
export function readGilSummary(db: Database.Database, schema: TraceSchema): GilSummary | null {
  if (!schema.tables.has('GILNVTX_META') || !schema.tables.has('NVTX_EVENTS')) return null;
  let summary: GilSummary | null;
  try {
    summary = parseGilSummary(db.prepare('SELECT value FROM GILNVTX_META WHERE key = ?').pluck().get(GIL_SUMMARY_KEY) as string | undefined);
  } catch {
    return null;
  }
  if (!summary) return null;
  const maxRowid = db.prepare('SELECT max(rowid) FROM NVTX_EVENTS').pluck().get() as number | null;
  return Number(maxRowid ?? 0) === summary.maxRowid ? summary : null;
}

/** Rows per window: one native call per window costs a quarter less than a row-by-row iterator. */
const ROWID_WINDOW = 4096;

type Take = (v0: unknown, v1: unknown, v2: unknown, v3: unknown) => void;

/**
 * Reads the rows of `SELECT <columns> <fromWhere>` in rowid windows. A window comes back as one JSON
 * array per column: a string per column instead of a JS array per row costs 40 % less per row, and
 * json_group_array sees the rows in the order of the rowid scan. JSON cannot carry a BLOB: a window
 * holding one (a damaged export) is read row by row instead, and its values reach `take` as they are.
 */
class WindowReader {
  private readonly json: Database.Statement;
  private readonly rows: Database.Statement;
  constructor(db: Database.Database, columns: string[], fromWhere: string) {
    const window = `${fromWhere} AND rowid >= ? AND rowid < ?`;
    const aliased = columns.map((c, i) => `${c} AS c${i}`).join(', ');
    this.json = db.prepare(`SELECT ${columns.map((_, i) => `json_group_array(c${i})`).join(', ')} FROM (SELECT ${aliased} ${window})`).raw(true);
    this.rows = db.prepare(`SELECT ${columns.join(', ')} ${window}`).raw(true);
  }

  read(bounds: { min: number; max: number }, take: Take): void {
    for (let lo = bounds.min; lo <= bounds.max; lo += ROWID_WINDOW) {
      let arrays: string[];
      try {
        arrays = this.json.get(lo, lo + ROWID_WINDOW) as string[];
      } catch {
        for (const r of this.rows.all(lo, lo + ROWID_WINDOW) as unknown[][]) take(r[0], r[1], r[2], r[3]);
        continue;
      }
      const c0 = JSON.parse(arrays[0]!) as unknown[];
      if (c0.length === 0) continue;
      const c1 = JSON.parse(arrays[1]!) as unknown[];
      const c2 = JSON.parse(arrays[2]!) as unknown[];
      const c3 = arrays.length > 3 ? (JSON.parse(arrays[3]!) as unknown[]) : [];
      for (let i = 0; i < c0.length; i++) take(c0[i], c1[i], c2[i], c3[i]);
    }
  }
}

type Row = [number, number | null, number, number];

/**
 * Why a GIL row cannot be used, or null when it can. Values come as SQLite stored them: a text or
 * NULL timestamp, a NULL thread. Marks (kind 2) have no end.
 */
function rowProblem(start: unknown, end: unknown, thread: unknown, kind: number): keyof BadRows | null {
  if (typeof thread !== 'number') return 'noThread';
  if (typeof start !== 'number') return 'badTimestamp';
  if (kind === 2 || end === null) return null;
  if (typeof end !== 'number') return 'badTimestamp';
  return end < start ? 'endBeforeStart' : null;
}

/** SQL condition true for the NVTX_EVENTS rows (aliased `alias`, if any) of the GIL domains of `domains`. */
export function gilDomainFilter(domains: { domainId: number; pid: number }[], alias?: string): string {
  const column = (name: string) => (alias ? `${alias}.${name}` : name);
  const byDomain = new Map<number, number[]>();
  for (const d of domains) byDomain.set(d.domainId, [...(byDomain.get(d.domainId) ?? []), d.pid]);
  return [...byDomain].map(([id, pids]) => `(${column('domainId')} = ${Number(id)} AND ${pidOfSql(column('globalTid'))} IN (${pids.map(Number).join(', ')}))`).join(' OR ') || '0';
}

/** rowid range of NVTX_EVENTS, or null when it has none (a view, say). */
function rowidBounds(db: Database.Database): { min: number; max: number } | null {
  try {
    // Two subqueries: each is one b-tree descent, where min and max in one SELECT scan the table.
    const r = db.prepare('SELECT (SELECT min(rowid) FROM NVTX_EVENTS), (SELECT max(rowid) FROM NVTX_EVENTS)').raw(true).get() as [number | null, number | null];
    return r[0] === null || r[1] === null ? null : { min: Number(r[0]), max: Number(r[1]) };
  } catch {
    return null;
  }
}

/** Growable column of numbers backed by a typed array. */
class Column<T extends Float64Array | Int32Array | Uint8Array> {
  data: T;
  length = 0;
  constructor(private readonly make: (n: number) => T, capacity = 1024) {
    this.data = make(capacity);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = this.make(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
}

/** A GIL's events in start order, for traces whose rows are in no usable order. */
class HeldEvents {
  constructor(readonly unended: Set<string> | null) {}
  start = new Column((n) => new Float64Array(n));
  end = new Column((n) => new Float64Array(n));
  thread = new Column((n) => new Int32Array(n));
  kind = new Column((n) => new Uint8Array(n));
  scan(visit: GilVisitor): void {
    const { start, end, thread, kind } = this;
    for (let i = 0; i < start.length; i++) visit(kind.data[i]!, start.data[i]!, end.data[i]!, thread.data[i]!, false);
  }
}

interface GilState {
  key: string;
  pid: number;
  interpreterId: number;
  counts: { holds: number; waits: number; drops: number };
  lastStart: number;
  sorted: boolean;
  held: HeldEvents | null;
  /** Waits and holds without an end that are not their thread's last: `${tid}:${kind}:${start}`. */
  unendedBeforeLast: Set<string> | null;
  /** Counts, threads and order came from the merge's summary: the scan checks them. */
  fromSummary: boolean;
}

/** Reads the GIL ranges of the trace's SQLite database. */
export function gilRangesFromSqlite(ctx: GilSourceContext): GilSource {
  const { db, schema, domains } = ctx;
  const ids = new Map<string, number>();
  for (const row of db
    .prepare('SELECT id, value FROM StringIds WHERE value IN (?, ?, ?)')
    .raw(true)
    .all(WAITING_MESSAGE, HOLDING_MESSAGE, DROP_REQUEST_MESSAGE) as [number, string][]) {
    ids.set(row[1], row[0]);
  }
  const idOr = (v: string) => ids.get(v) ?? -1;
  const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const textMatch = (v: string) =>
    `(${[schema.nvtxHasTextId ? `textId = ${idOr(v)}` : '', schema.nvtxHasText ? `text = ${q(v)}` : ''].filter(Boolean).join(' OR ')})`;
  const kindExpr = `CASE WHEN ${textMatch(WAITING_MESSAGE)} THEN 0 WHEN ${textMatch(HOLDING_MESSAGE)} THEN 1 WHEN ${textMatch(DROP_REQUEST_MESSAGE)} THEN 2 ELSE 3 END`;
  // Payload and kind travel in one column: every column costs per row, and interpreter ids are small.
  // The interpreter's location marks (locations.ts) share the domain; their payload, a range id, would
  // overflow the packed column, so they are left out here (cheap: only marks get the text test).
  const notLocation = schema.nvtxHasText ? ` AND NOT (eventType = ${NsysEventType.mark} AND COALESCE(text, '') LIKE ${q(LOCATION_TEXT_LIKE)})` : '';
  const baseColumns = ['start', 'end', 'globalTid', `${schema.nvtxPayload} * 4 + ${kindExpr}`];
  const baseFrom = `FROM NVTX_EVENTS WHERE eventType IN (${NsysEventType.pushPop}, ${NsysEventType.startEnd}, ${NsysEventType.mark})${notLocation}`;
  const baseSql = `SELECT ${baseColumns.join(', ')} ${baseFrom}`;
  const allGils = gilDomainFilter(domains);
  const rowids = rowidBounds(db);

  /** Feeds every row matching `filter` to `take`, in rowid windows where the table has rowids. */
  const readRows = (filter: string, take: (row: Row) => void, orderByStart = false): void => {
    if (rowids && !orderByStart) {
      const row = [0, null, 0, 0] as unknown[];
      new WindowReader(db, baseColumns, `${baseFrom} AND (${filter})`).read(rowids, (a, b, c, d) => {
        row[0] = a;
        row[1] = b;
        row[2] = c;
        row[3] = d;
        take(row as Row);
      });
    } else {
      for (const row of db.prepare(`${baseSql} AND (${filter})${orderByStart ? ' ORDER BY start' : ''}`).raw(true).iterate() as IterableIterator<Row>) take(row);
    }
  };

  const badRows: BadRows = { badTimestamp: 0, endBeforeStart: 0, noThread: 0, unendedBeforeLast: 0 };
  const threadIndex = new Map<number, number>();
  const threadIds: number[] = [];
  const gils = new Map<string, GilState>();
  let firstStart = Infinity;
  let lastEnd = -Infinity;
  const summary = ctx.summary;
  if (summary) {
    for (const gt of summary.threads) {
      threadIndex.set(gt, threadIds.length);
      threadIds.push(gt);
    }
    for (const e of summary.gils) {
      const key = `${e.pid}/${e.interpreterId}`;
      gils.set(key, { key, pid: e.pid, interpreterId: e.interpreterId, counts: { holds: e.holds, waits: e.waits, drops: e.drops }, lastStart: -Infinity, sorted: true, held: null, unendedBeforeLast: null, fromSummary: true });
    }
    firstStart = summary.firstStart ?? Infinity;
    lastEnd = summary.lastEnd ?? -Infinity;
  } else {
    // Per thread, the GIL of its last row: the pid is fixed per thread, so only the payload can change it.
    const threadGil: (GilState | undefined)[] = [];
    const threadInterp: number[] = [];
    // Per thread and kind (index thread * 2 + kind: wait, hold): the latest start; and the rows without an end.
    const latest: number[] = [];
    const unended: { gil: GilState; gt: number; kind: number; start: number; at: number }[] = [];
    let lastGt = NaN;
    let lastThread = -1;
    ctx.onProgress?.('reading GIL ranges…');
    // Rows without a thread belong to no process, so the per-process filter misses them: asked for
    // here (a GIL domain id and a GIL message) only to be counted as bad.
    const gilDomainIds = [...new Set(domains.map((d) => Number(d.domainId)))];
    const firstPassFilter = `${allGils} OR (globalTid IS NULL AND domainId IN (${gilDomainIds.join(', ') || 'NULL'}))`;
    readRows(firstPassFilter, (row) => {
      const start = row[0];
      const code = row[3];
      const kind = code & 3;
      if (kind === 3) return;
      const gt = row[2];
      const problem = rowProblem(start, row[1], gt, kind);
      if (problem) {
        badRows[problem]++;
        return;
      }
      if (gt !== lastGt) {
        lastGt = gt;
        let t = threadIndex.get(gt);
        if (t === undefined) {
          t = threadIds.length;
          threadIds.push(gt);
          threadIndex.set(gt, t);
          threadGil.push(undefined);
          threadInterp.push(NaN);
          latest.push(-Infinity, -Infinity);
        }
        lastThread = t;
      }
      const interp = (code - kind) / 4;
      let gil = threadGil[lastThread];
      if (gil === undefined || threadInterp[lastThread] !== interp) {
        const pid = pidOf(gt);
        const key = `${pid}/${interp}`;
        gil = gils.get(key);
        if (!gil) {
          gil = { key, pid, interpreterId: interp, counts: { holds: 0, waits: 0, drops: 0 }, lastStart: -Infinity, sorted: true, held: null, unendedBeforeLast: null, fromSummary: false };
          gils.set(key, gil);
        }
        threadGil[lastThread] = gil;
        threadInterp[lastThread] = interp;
      }
      // Only each GIL's own rows need to be in order: its scan reads nothing else.
      if (start < gil.lastStart) gil.sorted = false;
      gil.lastStart = start;
      if (start < firstStart) firstStart = start;
      if (kind === 2) {
        gil.counts.drops++;
        return;
      }
      if (kind === 1) gil.counts.holds++;
      else gil.counts.waits++;
      const end = row[1];
      if (end !== null && end > lastEnd) lastEnd = end;
      const at = lastThread * 2 + kind;
      if (start > latest[at]!) latest[at] = start;
      if (end === null) unended.push({ gil, gt, kind, start, at });
    });
    // A thread waits or holds once at a time: only its last wait (hold) can still be open.
    for (const u of unended) {
      if (u.start < latest[u.at]!) {
        badRows.unendedBeforeLast++;
        (u.gil.unendedBeforeLast ??= new Set()).add(`${tidOf(u.gt)}:${u.kind}:${u.start}`);
        if (u.kind === 1) u.gil.counts.holds--;
        else u.gil.counts.waits--;
      }
    }
  }

  const ordered = [...gils.values()].sort((a, b) => a.pid - b.pid || a.interpreterId - b.interpreterId);
  const filterOf = (g: GilState) =>
    `(${gilDomainFilter(domains.filter((d) => d.pid === g.pid))}) AND ${schema.nvtxPayload} = ${Number(g.interpreterId)}`;
  // One GIL alone needs no filter of its own: every GIL row is its row.
  const ownFilter = (g: GilState) => (gils.size === 1 ? allGils : filterOf(g));
  const walksIndex = (filter: string) => {
    const plan = db.prepare(`EXPLAIN QUERY PLAN ${baseSql} AND (${filter}) ORDER BY start`).raw(false).all() as { detail: string }[];
    return !plan.some((p) => /TEMP B-TREE/.test(p.detail));
  };
  const toHold = ordered.filter((g) => !g.sorted && !walksIndex(ownFilter(g)));
  if (toHold.length > 0) {
    // Rows in no usable order: SQL sorts once, and the events of those GILs stay in memory.
    ctx.onProgress?.('GIL rows are not in time order; sorting them…');
    const byKey = new Map(toHold.map((g) => [g.key, (g.held = new HeldEvents(g.unendedBeforeLast))]));
    let lastKey = '';
    let held: HeldEvents | undefined;
    readRows(
      toHold.length === gils.size ? allGils : toHold.map((g) => `(${filterOf(g)})`).join(' OR '),
      (row) => {
        const kind = row[3] & 3;
        if (kind === 3) return;
        const gt = row[2];
        if (rowProblem(row[0], row[1], gt, kind)) return;
        const key = `${pidOf(gt)}/${(row[3] - kind) / 4}`;
        if (key !== lastKey) {
          lastKey = key;
          held = byKey.get(key);
        }
        if (!held) return;
        if (row[1] === null && kind !== 2 && held.unended?.has(`${tidOf(gt)}:${kind}:${row[0]}`)) return;
        held.start.push(row[0]);
        held.end.push(kind === 2 ? row[0] : row[1] === null ? NaN : row[1]);
        held.thread.push(threadIndex.get(gt)!);
        held.kind.push(kind);
      },
      true,
    );
  }

  // A GIL's scan needs no pid (one GIL, one process) nor payload (its filter fixed it): the tid and
  // the kind share a column, one column fewer per row than the first pass.
  const scanColumns = ['start', 'end', `${tidOfSql('globalTid')} * 4 + ${kindExpr}`];
  const scanFrom = `FROM NVTX_EVENTS WHERE eventType IN (${NsysEventType.pushPop}, ${NsysEventType.startEnd}, ${NsysEventType.mark})`;
  const streamed = (g: GilState): GilRanges['scan'] => {
    const filter = ownFilter(g);
    const threadOfTid = new Map<number, number>();
    threadIds.forEach((gt, index) => {
      if (pidOf(gt) === g.pid) threadOfTid.set(tidOf(gt), index);
    });
    const unended = g.unendedBeforeLast;
    // What a scan of a summarised GIL checks: the rows the summary describes are all there is.
    const check = g.fromSummary;
    const stale = (what: string) => new StaleGilSummaryError(ctx.source, `GIL ${g.key}: ${what}`);
    return (visit) => {
      let lastTid = NaN;
      let thread = -1;
      let lastStart = -Infinity;
      const seen = [0, 0, 0];
      const take = (start: number, end: number | null, code: number) => {
        // A NULL globalTid makes the whole code NULL.
        if (typeof code !== 'number') {
          if (check) throw stale('a row without a thread');
          return;
        }
        const kind = code & 3;
        if (kind === 3) return;
        if (rowProblem(start, end, code, kind)) {
          if (check) throw stale('a row that cannot be a GIL event');
          return;
        }
        const tid = (code - kind) / 4;
        if (end === null && unended && kind !== 2 && unended.has(`${tid}:${kind}:${start}`)) return;
        if (tid !== lastTid) {
          lastTid = tid;
          thread = threadOfTid.get(tid)!;
        }
        if (check) {
          if (thread === undefined) throw stale(`thread ${tid} is not in the summary`);
          if (start < lastStart) throw stale('rows out of start order');
          if (end === null && kind !== 2) throw stale('a range without an end');
          lastStart = start;
          seen[kind]!++;
        }
        visit(kind, start, kind === 2 ? start : end === null ? NaN : end, thread, false);
      };
      if (g.sorted && rowids) {
        // A summarised GIL's rows are all in the merge's GIL block.
        const bounds = check ? { min: Math.max(rowids.min, summary!.gilRowidMin), max: rowids.max } : rowids;
        new WindowReader(db, scanColumns, `${scanFrom} AND (${filter})`).read(bounds, take as Take);
      } else {
        const order = g.sorted ? '' : ' ORDER BY start';
        for (const row of db.prepare(`SELECT ${scanColumns.join(', ')} ${scanFrom} AND (${filter})${order}`).raw(true).iterate() as IterableIterator<[number, number | null, number]>) take(row[0], row[1], row[2]);
      }
      if (check && (seen[0] !== g.counts.waits || seen[1] !== g.counts.holds || seen[2] !== g.counts.drops)) {
        throw stale(`${seen[1]} holds, ${seen[0]} waits and ${seen[2]} drop requests where the summary says ${g.counts.holds}, ${g.counts.waits} and ${g.counts.drops}`);
      }
    };
  };

  return {
    threadIds,
    firstStart,
    lastEnd,
    badRows,
    gils: ordered.map((g) => {
      const held = g.held;
      return {
        key: g.key,
        pid: g.pid,
        interpreterId: g.interpreterId,
        counts: g.counts,
        scan: held ? (visit: GilVisitor) => held.scan(visit) : streamed(g),
      };
    }),
  };
}
