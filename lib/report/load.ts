// loadTrace: from what the user named (.nsys-rep, .sqlite export, or a collector trace folder) to a
// LoadedTrace: names, bounds and threads read here, the GIL ranges left to their source
// (`gilRangesFromSqlite`), which streams them to the analyses.
import Database from 'better-sqlite3';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { GilNvtxError } from '../errors.js';
import { nsysExportSqlite } from '../nsys/run.js';
import { DROP_REQUEST_MESSAGE, GIL_DOMAIN, HOLDING_MESSAGE, WAITING_MESSAGE } from '../gil-contract.js';
import { cutOpenRanges, threadNameOf, type LoadedTrace, type ProcessInfo, type ThreadInfo, type TraceProducer } from './model.js';
import { detectSchema, hasColumns, nvtxTextSql, type TraceSchema } from './schema.js';
import { NSYS_GIL_DOMAIN, chooseGilSource, type DomainRow, type GilSourceChoice, type GilSourceRequest } from './gil-sources.js';
import { gilDomainFilter, gilRangesFromSqlite, readGilSummary } from './source-sqlite.js';
import type { GilSourceReport } from './types.js';
import { NsysEventType, pidOf, pidOfSql, tidOf } from '../nsys/export-schema.js';

export interface LoadOptions {
  /** Environment for nsys (a .nsys-rep input is exported with it). */
  env?: NodeJS.ProcessEnv;
  /** Called with progress lines (exporting, reading). */
  onProgress?: (line: string) => void;
  /**
   * Fail when the trace has no GIL ranges (default true). The Perfetto export of a trace without
   * Python in it (a Node-only collector trace, say) passes false.
   */
  requireGil?: boolean;
  /** Which GIL source to analyse when the trace has both (default `auto`: the patch's). */
  gilSource?: GilSourceRequest;
  /** Count the GIL rows even when the merge summarised them (after a `StaleGilSummaryError`). */
  ignoreGilSummary?: boolean;
}

const SQLITE_MAGIC = 'SQLite format 3\0';

/** Turns a low-level SQLite failure into the one-line error the CLI prints. */
export function sqliteFailure(err: unknown, file: string): GilNvtxError {
  const code = (err as { code?: string }).code ?? '';
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_NOTADB') {
    return new GilNvtxError(`${file} is not an SQLite database (${msg}).`, { hint: 'Pass a .nsys-rep, its SQLite export, or a `gil-nvtx trace` folder.', cause: err });
  }
  if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_IOERR_SHORT_READ' || code.startsWith('SQLITE_IOERR')) {
    return new GilNvtxError(`${file} is damaged: ${msg}. It may be truncated (copied or exported while incomplete).`, {
      hint: 'Export the .nsys-rep again (`nsys export --type sqlite --force-overwrite=true …`) or re-record the trace.',
      cause: err,
    });
  }
  return new GilNvtxError(`reading ${file} failed: ${msg}`, { cause: err });
}

interface ResolvedInput {
  sqlitePath: string;
  cleanup: () => void;
}

async function resolveInput(path: string, opts: LoadOptions): Promise<ResolvedInput> {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new GilNvtxError(`${path} does not exist.`, { hint: 'Pass a .nsys-rep, an .sqlite export, or a `gil-nvtx trace` output folder.' });
  }
  if (st.isDirectory()) {
    const inside = join(path, 'trace.sqlite');
    try {
      statSync(inside);
    } catch {
      // raw/ without trace.sqlite: a `gil-nvtx trace` that died before it merged.
      if (existsSync(join(path, 'raw'))) {
        throw new GilNvtxError(`${path} holds raw collector files (raw/) but no trace.sqlite: its \`gil-nvtx trace\` ended before merging them.`, {
          hint: `Run \`gil-nvtx merge ${path}\` (once the traced processes have ended), then report again.`,
        });
      }
      throw new GilNvtxError(`${path} is a folder without trace.sqlite, so it is not a gil-nvtx trace folder.`, {
        hint: '`gil-nvtx trace -o <dir> -- <command>` writes <dir>/trace.sqlite when the traced program ends.',
      });
    }
    return { sqlitePath: inside, cleanup: () => {} };
  }
  if (/\.(nsys-rep|qdrep)$/i.test(path)) {
    const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-report-'));
    const out = join(dir, `${basename(path).replace(/\.(nsys-rep|qdrep)$/i, '')}.sqlite`);
    opts.onProgress?.(`exporting ${path} to SQLite with nsys…`);
    try {
      await nsysExportSqlite(path, out, opts.env);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return { sqlitePath: out, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }
  return { sqlitePath: path, cleanup: () => {} };
}

/** Header checks SQLite itself would only report later, with less helpful words. */
function checkSqliteFile(file: string): void {
  const size = statSync(file).size;
  if (size === 0) throw new GilNvtxError(`${file} is empty.`, { hint: 'The export or trace was interrupted; record or export it again.' });
  const head = Buffer.alloc(100);
  const fd = openSync(file, 'r');
  let got: number;
  try {
    got = readSync(fd, head, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (got < 16 || head.toString('latin1', 0, 16) !== SQLITE_MAGIC) {
    throw new GilNvtxError(`${file} is not an SQLite database.`, {
      hint: 'Pass a .nsys-rep, its SQLite export (`nsys export --type sqlite`), or a `gil-nvtx trace` output folder.',
    });
  }
  if (got < 100) throw new GilNvtxError(`${file} is truncated (${size} bytes, shorter than an SQLite header).`);
  const rawPageSize = head.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const pages = head.readUInt32BE(28);
  // The in-header page count is valid when the two change counters agree (SQLite file format §1.3.7).
  if (pages > 0 && head.readUInt32BE(24) === head.readUInt32BE(92) && size < pages * pageSize) {
    throw new GilNvtxError(`${file} is truncated: ${size} bytes, but its header says ${pages * pageSize}.`, {
      hint: 'The file was cut short (copied or exported while incomplete). Export the .nsys-rep again or re-record.',
    });
  }
}

/** Every NVTX domain of the trace, with the GIL source to analyse chosen among them. */
function gilDomains(
  db: Database.Database,
  schema: TraceSchema,
  source: string,
  required: boolean,
  wanted: GilSourceRequest,
  /** Where a collector trace's GIL block starts: domains are created before it. */
  gilRowidMin?: number,
): { choice: GilSourceChoice | null; all: DomainRow[] } {
  const { expr: textExpr, join } = nvtxTextSql(schema, 'e');
  const before = gilRowidMin === undefined ? '' : ` AND e.rowid < ${Math.trunc(gilRowidMin)}`;
  const domains = db
    .prepare(`SELECT e.domainId AS domainId, ${pidOfSql('e.globalTid')} AS pid, ${textExpr} AS name FROM NVTX_EVENTS AS e ${join} WHERE e.eventType = ${NsysEventType.domainCreate}${before}`)
    .all() as DomainRow[];
  const choice = chooseGilSource(domains, wanted, source);
  if (choice || !required) return { choice, all: domains };
  const anyNvtx = db.prepare('SELECT 1 FROM NVTX_EVENTS LIMIT 1').get() !== undefined;
  const others = [...new Set(domains.map((d) => d.name ?? '(unnamed)'))];
  throw new GilNvtxError(
    `${source} has no '${GIL_DOMAIN}' NVTX domain (nor the '${NSYS_GIL_DOMAIN}' domain of nsys --trace=python-gil), so there are no GIL ranges to analyse` +
      (anyNvtx ? ` (NVTX domains present: ${others.length ? others.map((n) => JSON.stringify(n)).join(', ') : 'only the default domain'}).` : ' (it holds no NVTX events at all).'),
    {
      hint:
        'Either the Python that ran was not a GIL-instrumented build (check it with `gil-nvtx doctor <python>`; build one with ' +
        '`gil-nvtx build-python`), or tracing was turned off with PYTHON_GIL_NVTX=0' +
        (anyNvtx ? '.' : ', or NVTX tracing was not enabled (`nsys profile -t nvtx,osrt …`).') +
        ' A stock CPython ≥ 3.9 (not free-threaded) can be traced by nsys 2024.2+ itself: `nsys profile --trace=python-gil,nvtx,osrt …`.',
      exitCode: 3,
    },
  );
}

/** How many GIL ranges each source not analysed has, for the header's "also in this trace". */
function otherSources(db: Database.Database, choice: GilSourceChoice): GilSourceReport['others'] {
  return choice.others.map((o) => {
    const ranges = db
      .prepare(`SELECT count(*) FROM NVTX_EVENTS WHERE eventType IN (${NsysEventType.pushPop}, ${NsysEventType.startEnd}) AND (${gilDomainFilter(o.domains)})`)
      .pluck()
      .get() as number;
    return { id: o.kind.id, domain: o.kind.domain, label: o.kind.label, ranges: Number(ranges) };
  });
}

function readTraceBounds(db: Database.Database, schema: TraceSchema): { start: number | null; end: number | null } {
  if (hasColumns(schema, 'ANALYSIS_DETAILS', ['duration'])) {
    const row = db.prepare('SELECT duration FROM ANALYSIS_DETAILS LIMIT 1').get() as { duration: number } | undefined;
    if (row && row.duration > 0) return { start: 0, end: Number(row.duration) };
  }
  if (hasColumns(schema, 'GILNVTX_META', ['key', 'value'])) {
    const rows = db.prepare("SELECT key, value FROM GILNVTX_META WHERE key IN ('traceStart', 'traceEnd', 'startNs', 'endNs')").all() as { key: string; value: string }[];
    const get = (...keys: string[]) => rows.find((r) => keys.includes(r.key))?.value;
    const end = Number(get('traceEnd', 'endNs'));
    if (Number.isFinite(end) && end > 0) return { start: Number(get('traceStart', 'startNs') ?? 0) || 0, end };
  }
  return { start: null, end: null };
}

/** What the collector counted as dropped: per process (GILNVTX_PROCESSES), else the merge's total. */
function readDroppedEvents(db: Database.Database, schema: TraceSchema): number {
  if (schema.tables.has('GILNVTX_PROCESSES')) {
    try {
      const n = Number(db.prepare('SELECT total(droppedEvents) FROM GILNVTX_PROCESSES').pluck().get());
      if (Number.isFinite(n) && n > 0) return n;
    } catch {
      /* an older table without the column: the meta total below */
    }
  }
  if (hasColumns(schema, 'GILNVTX_META', ['key', 'value'])) {
    const n = Number(db.prepare("SELECT value FROM GILNVTX_META WHERE key = 'droppedEvents'").pluck().get());
    if (Number.isFinite(n) && n > 0) return n;
  }
  return 0;
}

/** Per-process end times the collector records (GILNVTX_PROCESSES); open ranges are cut there. */
function processEnds(db: Database.Database, schema: TraceSchema): Map<number, number> {
  const ends = new Map<number, number>();
  if (!schema.tables.has('GILNVTX_PROCESSES')) return ends;
  try {
    for (const [pid, end] of db.prepare('SELECT pid, max(end) FROM GILNVTX_PROCESSES WHERE end IS NOT NULL GROUP BY pid').raw(true).all() as [number, number][]) {
      ends.set(Number(pid), Number(end));
    }
  } catch {
    /* an older collector table without these columns: fall back to the trace bounds */
  }
  return ends;
}

function readProducer(db: Database.Database, schema: TraceSchema): { producer: TraceProducer; version: string | null } {
  if (hasColumns(schema, 'GILNVTX_META', ['key', 'value'])) {
    const rows = db.prepare("SELECT key, value FROM GILNVTX_META WHERE key IN ('producer', 'version')").all() as { key: string; value: string }[];
    const producer = rows.find((r) => r.key === 'producer')?.value;
    if (producer === 'gil-nvtx collector') return { producer, version: rows.find((r) => r.key === 'version')?.value ?? null };
  }
  // EXPORT_META_DATA since 2021.x; older exports called it META_DATA_EXPORT.
  for (const table of ['EXPORT_META_DATA', 'META_DATA_EXPORT']) {
    if (hasColumns(schema, table, ['name', 'value'])) {
      const v = db.prepare(`SELECT value FROM ${table} WHERE name = 'EXPORT_PRODUCT_VERSION'`).pluck().get() as string | undefined;
      return { producer: 'nsys', version: v ?? null };
    }
  }
  return { producer: schema.tables.has('GILNVTX_META') ? 'gil-nvtx collector' : 'unknown', version: null };
}

// nsys names the child it forks for the program after itself until the exec; when it samples names in
// that window the program's main thread keeps this name (seen with 2022.4 under load).
const NSYS_LAUNCHER_NAME = 'nsys-launcher';

/**
 * One name per thread: the lowest priority value wins (an NVTX-given name, 0, beats nsys's own, 10,
 * and the OS comm, 20). nsys's launcher name never beats another name of the same thread; where it is
 * the only one, a main thread takes its process's executable name instead.
 */
function threadNames(db: Database.Database, schema: TraceSchema, processNames: Map<number, string>): Map<number, string> {
  const names = new Map<number, string>();
  if (!hasColumns(schema, 'ThreadNames', ['nameId', 'globalTid'])) return names;
  const prio = hasColumns(schema, 'ThreadNames', ['priority']) ? 'COALESCE(t.priority, 1000)' : '0';
  const rows = db
    .prepare(`SELECT t.globalTid, s.value, ${prio} FROM ThreadNames AS t JOIN StringIds AS s ON s.id = t.nameId`)
    .raw(true)
    .all() as [number, string, number][];
  const rank = (name: string, priority: number) => (name === NSYS_LAUNCHER_NAME ? 2 ** 40 : 0) + priority;
  const best = new Map<number, { name: string; rank: number }>();
  for (const [gt, name, priority] of rows) {
    const r = rank(name, Number(priority));
    const seen = best.get(Number(gt));
    // Among equal ranks the later row wins: a thread renamed twice keeps its last name.
    if (!seen || r <= seen.rank) best.set(Number(gt), { name, rank: r });
  }
  for (const [gt, { name }] of best) {
    const pid = pidOf(gt);
    const program = processNames.get(pid);
    names.set(gt, name === NSYS_LAUNCHER_NAME && tidOf(gt) === pid && program ? executableName(program) : name);
  }
  return names;
}

/** `/usr/bin/python3.11 -u app.py` → `python3.11`: the name the OS gives the thread after the exec. */
function executableName(processName: string): string {
  const exe = processName.trim().split(/\s+/)[0] ?? processName;
  return basename(exe).slice(0, 15) || processName;
}

function processNames(db: Database.Database, schema: TraceSchema): Map<number, string> {
  const names = new Map<number, string>();
  if (!hasColumns(schema, 'PROCESSES', ['pid', 'name'])) return names;
  for (const [pid, name] of db.prepare('SELECT pid, name FROM PROCESSES').raw(true).all() as [number, string | null][]) {
    if (name != null) names.set(Number(pid), name);
  }
  return names;
}

export async function loadTrace(path: string, opts: LoadOptions = {}): Promise<LoadedTrace> {
  const input = await resolveInput(path, opts);
  let db: Database.Database | undefined;
  try {
    checkSqliteFile(input.sqlitePath);
    try {
      db = new Database(input.sqlitePath, { readonly: true, fileMustExist: true });
    } catch (err) {
      throw sqliteFailure(err, path);
    }
    const opened = db;
    const trace = readTrace(opened, path, input.sqlitePath, opts);
    const close = () => {
      opened.close();
      input.cleanup();
    };
    return { ...trace, db: opened, close };
  } catch (err) {
    db?.close();
    input.cleanup();
    if (err instanceof GilNvtxError) throw err;
    throw sqliteFailure(err, path);
  }
}

/** Reads everything but the lazily queried tables; exported so callers with an open handle can reuse it. */
export function readTrace(db: Database.Database, source: string, sqlitePath: string, opts: LoadOptions = {}): Omit<LoadedTrace, 'db' | 'close'> {
  const schema = detectSchema(db, source);
  const requireGil = opts.requireGil !== false;
  const merged = opts.ignoreGilSummary ? null : readGilSummary(db, schema);
  const { choice, all: allDomains } = gilDomains(db, schema, source, requireGil, opts.gilSource ?? 'auto', merged?.gilRowidMin);
  const domains = choice?.domains ?? [];
  // The one place that decides where GIL ranges come from: another source returns the same GilSource.
  // The merge summarises only the patch's ranges: its own.
  const summary = choice?.kind.id === 'patch' ? merged : null;
  const gilSource = gilRangesFromSqlite({ db, schema, source, sqlitePath, domains, summary, onProgress: opts.onProgress });
  if (gilSource.gils.length === 0 && requireGil) {
    const domain = choice!.kind.domain;
    throw new GilNvtxError(`${source} has the '${domain}' NVTX domain but not a single '${WAITING_MESSAGE}' / '${HOLDING_MESSAGE}' range${choice!.kind.carries.dropRequests ? ` or '${DROP_REQUEST_MESSAGE}' mark` : ''} in it.`, {
      hint:
        choice!.kind.id === 'patch'
          ? 'The interpreter created the domain but emitted no GIL transitions: tracing was turned off with PYTHON_GIL_NVTX=0, ' +
            'or it is a free-threaded build running with the GIL disabled (PYTHON_GIL=0), or the trace stopped before Python ran.'
          : 'nsys attached its GIL tracer but recorded no transitions: the trace stopped before Python ran, or the interpreter is a ' +
            'free-threaded build (nsys cannot trace those).',
      exitCode: 3,
    });
  }
  const bounds = readTraceBounds(db, schema);
  const procEnds = processEnds(db, schema);
  const traceEnd = bounds.end ?? (procEnds.size > 0 ? Math.max(...procEnds.values()) : Number.isFinite(gilSource.lastEnd) ? gilSource.lastEnd : 0);
  const traceStart = bounds.start ?? (Number.isFinite(gilSource.firstStart) ? gilSource.firstStart : 0);
  // Where each process's never-closed ranges were cut (see cutOpenRanges).
  const openAt = (pid: number) => procEnds.get(pid) ?? (bounds.end !== null ? bounds.end : Infinity);

  const pNames = processNames(db, schema);
  const tNames = threadNames(db, schema, pNames);
  const threads: ThreadInfo[] = gilSource.threadIds.map((gt, index) => {
    const pid = pidOf(gt);
    const tid = tidOf(gt);
    return { index, globalTid: gt, pid, tid, name: threadNameOf(tNames, gt, pid, tid) };
  });
  const processes = new Map<number, ProcessInfo>();
  for (const d of domains) processes.set(d.pid, { pid: d.pid, name: pNames.get(d.pid) ?? `pid ${d.pid}` });

  const gils = gilSource.gils.map((g) => cutOpenRanges(g, openAt(g.pid), traceEnd));
  const gilRowDomains = choice?.allGilDomains ?? [];
  const { producer, version } = readProducer(db, schema);
  const droppedEvents = readDroppedEvents(db, schema);
  return {
    source,
    sqlitePath,
    producer,
    producerVersion: version,
    traceStart,
    traceEnd,
    droppedEvents,
    badRows: gilSource.badRows,
    processes,
    processNames: pNames,
    threads,
    threadNames: tNames,
    domainNames: new Map(allDomains.map((d) => [`${d.pid}/${d.domainId}`, d.name ?? ''])),
    gils,
    gilRowFilter: (alias) => gilDomainFilter(gilRowDomains, alias),
    nonGilRowFilter: (alias) =>
      `${merged ? `${alias ? `${alias}.` : ''}rowid < ${Math.trunc(merged.gilRowidMin)} AND ` : ''}NOT (${gilDomainFilter(gilRowDomains, alias)})`,
    gilSource: choice
      ? { id: choice.kind.id, domain: choice.kind.domain, label: choice.kind.label, carries: { ...choice.kind.carries }, gaps: [...choice.kind.gaps], others: otherSources(db, choice) }
      : null,
    has: {
      osrt: hasColumns(schema, 'OSRT_API', ['start', 'end', 'globalTid', 'nameId']),
      sched: hasColumns(schema, 'SCHED_EVENTS', ['start', 'isSchedIn', 'globalTid']) && db.prepare('SELECT 1 FROM SCHED_EVENTS LIMIT 1').get() !== undefined,
      holdSamples: hasColumns(schema, 'GILNVTX_HOLD_SAMPLES', ['globalTid', 'holdStart', 'execNs']),
      threadNames: schema.tables.has('ThreadNames'),
      processes: schema.tables.has('PROCESSES'),
    },
    schema,
  };
}
