import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { GilNvtxError } from '../errors.js';
import { renameOutputFile, tempBeside } from '../output-file.js';
import { PayloadColumn, RAW_FILE_SUFFIX, RawKind, SAMPLE_FILE_SUFFIX, SAMPLE_FORMAT_VERSION, SAMPLE_HEADER_SIZE, SAMPLE_MAGIC, SAMPLE_SIZE, SampleOffset } from './raw-format.js';
import { DROP_REQUEST_MESSAGE, GIL_DOMAIN, HOLDING_MESSAGE, WAITING_MESSAGE } from '../gil-contract.js';
import { GIL_SUMMARY_KEY, GilSummaryBuilder, gilMessageKind } from './gil-summary.js';
import { RawTraceFile, type DecodeState, type EventAttrs, type RawChunk, type RawRecord } from './raw-reader.js';
import { EVENT_TYPE_NAMES, NsysEventType, globalPid, globalTid } from '../nsys/export-schema.js';
import { TRACE_INDEX_SQL, TRACE_SCHEMA_SQL, uint64ForSqlite } from './schema.js';
import { COLLECTOR_CLOCK, PRODUCER, traceFormatVersion } from './meta.js';
import { TickConverter } from './ticks.js';

export interface MergeSummary {
  output: string;
  processes: number;
  threads: number;
  events: number;
  /** Processes whose file has no exit time: they ended through _exit, a signal or a crash. */
  withoutCleanExit: number[];
  droppedEvents: number;
  /** Raw records decoded (each NVTX call is one): the unit of the merge's speed. */
  records: number;
  /** Chunks a recording thread had to allocate itself: system calls the watchdog did not take over. */
  selfAllocatedChunks: number;
  /** Watchdog samples of long GIL holds (GILNVTX_HOLD_SAMPLES rows). */
  holdSamples: number;
}

/** Lists the collector's per-process files in `rawDir`. */
export function rawTraceFiles(rawDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(rawDir);
  } catch (err) {
    throw new GilNvtxError(`Cannot read the collector folder ${rawDir}: ${(err as Error).message}`, { cause: err });
  }
  return names.filter((n) => n.endsWith(RAW_FILE_SUFFIX)).sort().map((n) => join(rawDir, n));
}

interface OpenRange extends EventAttrs {
  start: number;
  tid: number;
  domainId: number;
  rangeId: number | null;
}

/** A copy of what an open range needs from its (reused) start record. */
function openRange(r: RawRecord, start: number, tid: number, domainId: number, rangeId: number | null): OpenRange {
  return { start, tid, domainId, category: r.category, color: r.color, payloadType: r.payloadType, payload: r.payload, stringId: r.stringId, text: r.text, rangeId };
}

/**
 * Merges the collector's per-process files into one SQLite file in the nsys export schema. Rows are
 * written as ranges close, so memory holds only open ranges and definitions, never the whole trace.
 * The database is built under a temporary name and renamed into place.
 */
export function mergeTrace(rawDir: string, output: string, opts: { window?: { fromNs: number; toNs: number } } = {}): MergeSummary {
  const files = rawTraceFiles(rawDir);
  if (files.length === 0) {
    throw new GilNvtxError(`No collector files (*${RAW_FILE_SUFFIX}) in ${rawDir}.`, {
      hint: 'Did the program make any NVTX call? Only processes that load NVTX (a patched CPython, the gil-nvtx Node addon, a C program with the NVTX headers) write a file. Is another NVTX tool (nsys) attached already?',
    });
  }
  const tmp = tempBeside(output);
  rmSync(tmp, { force: true });
  let db: Database.Database;
  try {
    db = new Database(tmp);
  } catch (err) {
    throw new GilNvtxError(`Cannot create ${output}: ${(err as Error).message}.`, { hint: 'Check that its folder exists and is writable.', cause: err });
  }
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec(TRACE_SCHEMA_SQL);
    const summary = writeAll(db, files, readSamples(rawDir), opts.window);
    db.exec(TRACE_INDEX_SQL);
    db.close();
    renameOutputFile(tmp, output);
    return { ...summary, output };
  } catch (err) {
    if (db.open) db.close();
    rmSync(tmp, { force: true });
    throw diskFull(err) ? mergeFullError(rawDir, output, err) : err;
  }
}

/** SQLite's and the OS's ways of saying the disk (or a quota) is full. */
function diskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_IOERR_WRITE';
}

function mergeFullError(rawDir: string, output: string, err: unknown): GilNvtxError {
  const code = (err as { code: string }).code;
  return new GilNvtxError(`Merging into ${output} failed: the disk is full (${code}); nothing was written.`, {
    hint: `The raw files are kept in ${rawDir}. Free some space and run \`gil-nvtx merge ${dirname(rawDir)}\`, or merge onto another disk with \`gil-nvtx merge ${dirname(rawDir)} -o OTHER/trace.sqlite\`.`,
    cause: err,
  });
}

/** One watchdog sample, as the samples file holds it (raw_format.h). */
interface Sample {
  pid: number;
  tid: number;
  ns: number;
  holdSince: number;
  values: (number | null)[];
  state: string;
  wchan: string | null;
}

const UNKNOWN_HI = 0xffffffff;
/** The sample columns after (globalTid, holdStart, ts), in GILNVTX_HOLD_SAMPLES order. */
const SAMPLE_COUNTERS = ['execNs', 'runqNs', 'minflt', 'majflt', 'syscall', 'arg0', 'throttledNs', 'nrThrottled', 'psiCpuUs', 'psiIoUs', 'psiMemUs'] as const;

/** Every watchdog sample in `rawDir`, by pid. A file cut mid-sample (the watchdog was killed) keeps its whole samples. */
export function readSamples(rawDir: string): Map<number, Sample[]> {
  const byPid = new Map<number, Sample[]>();
  let names: string[] = [];
  try {
    names = readdirSync(rawDir).filter((n) => n.endsWith(SAMPLE_FILE_SUFFIX));
  } catch {
    return byPid;
  }
  for (const name of names) {
    let b: Buffer;
    try {
      b = readFileSync(join(rawDir, name));
    } catch {
      continue;
    }
    if (b.length < SAMPLE_HEADER_SIZE || b.toString('latin1', 0, 8) !== SAMPLE_MAGIC || b.readUInt32LE(8) !== SAMPLE_FORMAT_VERSION) continue;
    const size = b.readUInt32LE(12);
    if (size < SAMPLE_SIZE) continue;
    for (let off = SAMPLE_HEADER_SIZE; off + size <= b.length; off += size) {
      const at = (o: number) => (b.readUInt32LE(off + o + 4) === UNKNOWN_HI ? null : b.readUInt32LE(off + o + 4) * 2 ** 32 + b.readUInt32LE(off + o));
      const values = SAMPLE_COUNTERS.map((k) => at(SampleOffset[k]));
      const nr = b.readBigInt64LE(off + SampleOffset.syscall);
      values[SAMPLE_COUNTERS.indexOf('syscall')] = nr === -2n ? null : Number(nr);
      const w = b.subarray(off + SampleOffset.wchan, off + SampleOffset.wchan + 15); // NUL-padded
      const nul = w.indexOf(0);
      const wchan = w.toString('latin1', 0, nul < 0 ? w.length : nul);
      const s: Sample = {
        pid: b.readUInt32LE(off + SampleOffset.pid),
        tid: b.readUInt32LE(off + SampleOffset.tid),
        ns: at(SampleOffset.ns) ?? 0,
        holdSince: at(SampleOffset.holdSince) ?? 0,
        values,
        state: String.fromCharCode(b[off + SampleOffset.state]!),
        wchan: wchan || null,
      };
      let list = byPid.get(s.pid);
      if (!list) byPid.set(s.pid, (list = []));
      list.push(s);
    }
  }
  return byPid;
}

/** The NVTX_EVENTS columns every row fills, in statement order. */
const EVENT_COLUMNS = ['start', 'eventType', 'globalTid', 'domainId'] as const;
/** Columns a row may leave NULL: a shape binds those its rows have (bit i of its mask: OPTIONAL_COLUMNS[i]). */
const OPTIONAL_COLUMNS = ['end', 'rangeId', 'category', 'color', 'endGlobalTid'] as const;

/** Event types a merge window cuts (definitions and names are kept whenever they were written). */
const WINDOWED_TYPES = new Set<number>([NsysEventType.pushPop, NsysEventType.startEnd, NsysEventType.mark]);

/**
 * `window`: only ranges and marks that overlap it (a flight-recorder dump: a ring chunk a thread has
 * written slowly can reach back long before the dump's window).
 */
function writeAll(db: Database.Database, files: string[], samples: Map<number, Sample[]>, window?: { fromNs: number; toNs: number }): Omit<MergeSummary, 'output'> {
  // One statement per row shape (message kind x payload column x which optional columns are set), each
  // binding only its own columns (binding a NULL costs as much as binding a value: a GIL row binds 9
  // columns instead of 11), and rows go in batches of BATCH per statement: per-call overhead is most
  // of an insert's cost, and there are millions of rows.
  const BATCH = 64;
  interface Shape {
    columns: number;
    mask: number;
    pending: unknown[];
    rows: number;
    batch: Database.Statement;
    /** Statements of fewer rows (powers of two below BATCH), prepared when a partial batch is written. */
    partial: Map<number, Database.Statement>;
    insert: string;
    one: string;
  }
  const shapes = new Map<number, Shape>();
  const shapeOf = (payloadType: number, message: 0 | 1 | 2, mask: number): Shape => {
    const k = ((payloadType * 3 + message) << OPTIONAL_COLUMNS.length) | mask;
    let sh = shapes.get(k);
    if (!sh) {
      const cols: string[] = [...EVENT_COLUMNS, ...OPTIONAL_COLUMNS.filter((_, i) => mask & (1 << i))];
      if (message === 1) cols.push('textId');
      if (message === 2) cols.push('text');
      if (payloadType) cols.push(PayloadColumn[payloadType]!);
      const one = `(${cols.map(() => '?').join(', ')})`;
      const insert = `INSERT INTO NVTX_EVENTS (${cols.join(', ')}) VALUES `;
      sh = { columns: cols.length, mask, pending: new Array(cols.length * BATCH), rows: 0, batch: db.prepare(insert + Array(BATCH).fill(one).join(', ')), partial: new Map(), insert, one };
      shapes.set(k, sh);
    }
    return sh;
  };
  // A partial batch goes out in power-of-two statements: shapes that alternate (ranges with and
  // without a colour, say) cost a few calls per switch, not one per row.
  const flushShape = (sh: Shape) => {
    let at = 0;
    for (let size = BATCH / 2; size >= 1; size /= 2) {
      if (sh.rows - at < size) continue;
      let stmt = sh.partial.get(size);
      if (!stmt) sh.partial.set(size, (stmt = db.prepare(sh.insert + Array(size).fill(sh.one).join(', '))));
      stmt.run(sh.pending.slice(at * sh.columns, (at + size) * sh.columns));
      at += size;
    }
    sh.rows = 0;
  };
  const flushRows = () => {
    for (const sh of shapes.values()) flushShape(sh);
  };
  // Rows keep their insertion order in the table (pass 3 relies on rowid order being start order): a
  // row of another shape first writes out the batch in progress. Shapes rarely alternate (the GIL's
  // ranges and drop requests share one; the interpreter's location marks are few).
  let lastShape: Shape | null = null;
  /**
   * One NVTX_EVENTS row: times, type, ids, and the message / payload of `o`. Returns the row's textId,
   * or undefined when the row is outside the merge's window and not written.
   */
  const insertEvent = (o: OpenRange, strings: Map<number, number>, end: number | null, eventType: number, gtid: number, endGtid: number | null): number | null | undefined => {
    if (window && WINDOWED_TYPES.has(eventType) && ((end ?? o.start) < window.fromNs || o.start > window.toNs)) return undefined;
    const textId = o.stringId ? (strings.get(o.stringId) ?? null) : null;
    const message: 0 | 1 | 2 = textId !== null ? 1 : o.text !== null ? 2 : 0;
    const mask = (end !== null ? 1 : 0) | (o.rangeId !== null ? 2 : 0) | (o.category !== null ? 4 : 0) | (o.color !== null ? 8 : 0) | (endGtid !== null ? 16 : 0);
    const sh = shapeOf(o.payloadType, message, mask);
    if (sh !== lastShape) {
      if (lastShape) flushShape(lastShape);
      lastShape = sh;
    }
    const row = sh.pending;
    let i = sh.rows * sh.columns;
    row[i++] = o.start;
    row[i++] = eventType;
    row[i++] = gtid;
    row[i++] = o.domainId;
    if (mask & 1) row[i++] = end;
    if (mask & 2) row[i++] = o.rangeId;
    if (mask & 4) row[i++] = o.category;
    if (mask & 8) row[i++] = o.color;
    if (mask & 16) row[i++] = endGtid;
    if (message === 1) row[i++] = textId;
    else if (message === 2) row[i++] = o.text;
    // Only a uint64 payload can reach 2^63 (int64 ones are read signed): two's complement, see schema.ts.
    if (o.payloadType) row[i] = uint64ForSqlite(o.payload);
    if (++sh.rows === BATCH) {
      sh.batch.run(row);
      sh.rows = 0;
    }
    return textId;
  };
  const insString = db.prepare('INSERT INTO StringIds (id, value) VALUES (?, ?)');
  const insThreadName = db.prepare('INSERT INTO ThreadNames (nameId, priority, globalTid) VALUES (?, ?, ?)');
  const insSample = db.prepare(
    `INSERT INTO GILNVTX_HOLD_SAMPLES (globalTid, holdStart, ts, state, wchan, ${SAMPLE_COUNTERS.join(', ')}) VALUES (${Array(5 + SAMPLE_COUNTERS.length).fill('?').join(', ')})`,
  );
  const insResource = db.prepare(
    'INSERT INTO GILNVTX_RESOURCES (globalTid, domainId, resourceId, identifierType, identifier, textId, text, created, destroyed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insProcessInfo = db.prepare(
    'INSERT INTO GILNVTX_PROCESSES (globalPid, pid, ppid, forkedFrom, start, end, cleanExit, droppedEvents, commandLine, file) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );

  const stringIds = new Map<string, number>();
  const stringId = (value: string): number => {
    let id = stringIds.get(value);
    if (id === undefined) {
      id = stringIds.size + 1;
      stringIds.set(value, id);
      insString.run(id, value);
    }
    return id;
  };

  const processNames = new Map<number, string>();
  /** Domain ids already used per pid: a pid that exec'd writes one file per program image. */
  const domainBase = new Map<number, number>();
  let events = 0;
  let records = 0;
  let threads = 0;
  let dropped = 0;
  let selfAllocated = 0;
  let watched = 0;
  let sampleRows = 0;
  let traceStart = Infinity;
  let traceEnd = 0;
  const withoutCleanExit: number[] = [];
  const timestampSources = new Set<string>();
  const gilSummary = new GilSummaryBuilder();
  /** Pass 3 of each program image with GIL rows, run once every image's other rows are written. */
  const gilImages: { file: string; write: (raw: RawTraceFile) => void }[] = [];

  const run = db.transaction(() => {
    for (const file of files) {
      const raw = new RawTraceFile(file);
      try {
        const h = raw.header;
        const pid = h.pid;
        const base = domainBase.get(pid) ?? 0;
        let maxDomain = 0;
        const dom = (local: number) => (local === 0 ? 0 : local + base);

        // Pass 1: definitions (they may sit in any thread's chunks), calibration pairs, the last timestamp.
        const strings = new Map<number, number>(); // registered id -> StringIds id
        const gilDomains = new Set<number>(); // this file's local ids of the CPython GIL domain
        let lastTick = -Infinity;
        const calibration = [...h.calibration];
        for (const t of raw.threads) {
          raw.decode(t, (r) => {
            switch (r.kind) {
              case RawKind.calibration:
                calibration.push([r.ts, r.value]);
                return;
              case RawKind.string:
                strings.set(r.value, stringId(r.text ?? ''));
                break;
              case RawKind.domain:
                if (r.text === GIL_DOMAIN) gilDomains.add(r.domain);
                break;
              case RawKind.thread:
                return; // thread-name bookkeeping written when threads end is not the last NVTX call
              default:
                break;
            }
            if (r.ts > lastTick) lastTick = r.ts;
          });
        }
        // Record timestamps become CLOCK_MONOTONIC ns here (TSC files), before anything uses them.
        timestampSources.add(h.timestampSource);
        const ticks = new TickConverter(calibration, h.timestampSource === 'clock_gettime');
        const lastTs = lastTick === -Infinity ? h.startNs : Math.max(h.startNs, ticks.toNs(lastTick));
        const processEnd = h.endNs ?? lastTs;
        if (h.endNs === null) withoutCleanExit.push(pid);
        traceStart = Math.min(traceStart, h.startNs);
        traceEnd = Math.max(traceEnd, processEnd);
        dropped += h.droppedEvents;
        selfAllocated += h.selfAllocatedChunks;
        if (h.watchdogPid) watched++;

        // Pass 2: events, paired per thread and domain (push/pop) and per process (start/end).
        let rangeCounter = 0;
        const openStarts = new Map<number, OpenRange>();
        const earlyEnds = new Map<number, { ts: number; tid: number }>();
        /** GIL ranges ended on a thread other than their own (never by the patch; possible through the API). */
        const gilCrossEnds = new Map<number, { ts: number; tid: number }>();
        const resources = new Map<number, unknown[]>();
        const osNames = new Map<number, string>();

        const emitRange = (eventType: number, o: OpenRange, end: number, endTid: number | null) => {
          // nsys fills endGlobalTid only when another thread ended the range.
          const endGt = endTid === null || endTid === o.tid ? null : globalTid(pid, endTid);
          insertEvent(o, strings, end, eventType, globalTid(pid, o.tid), endGt);
          events++;
        };
        /** Definition rows (domain, category, thread name): text inline, no payload. */
        const point = (eventType: number, ts: number, domain: number, tid: number, text: string | null, category: number | null = null) => {
          const o: OpenRange = { start: ts, tid, domainId: dom(domain), category, color: null, payloadType: 0, payload: 0, stringId: 0, text, rangeId: null };
          insertEvent(o, strings, null, eventType, globalTid(pid, tid), null);
          events++;
        };

        for (const t of raw.threads) {
          threads++;
          const stacks = new Map<number, OpenRange[]>();
          raw.decode(t, (r) => {
            records++;
            const ts = ticks.toNs(r.ts);
            switch (r.kind) {
              case RawKind.push: {
                if (gilDomains.has(r.domain)) break; // GIL rows: pass 3
                let s = stacks.get(r.domain);
                if (!s) stacks.set(r.domain, (s = []));
                s.push(openRange(r, ts, t.tid, dom(r.domain), null));
                break;
              }
              case RawKind.pop: {
                if (gilDomains.has(r.domain)) break;
                const o = stacks.get(r.domain)?.pop();
                // A pop with nothing open (or a fork child popping its parent's range) is ignored, as nsys does.
                if (o) emitRange(NsysEventType.pushPop, o, ts, null);
                break;
              }
              case RawKind.start: {
                if (gilDomains.has(r.domain)) break;
                const o = openRange(r, ts, t.tid, dom(r.domain), ++rangeCounter);
                const e = earlyEnds.get(r.key);
                if (e) {
                  earlyEnds.delete(r.key);
                  emitRange(NsysEventType.startEnd, o, e.ts, e.tid);
                } else {
                  openStarts.set(r.key, o);
                }
                break;
              }
              case RawKind.end: {
                const o = openStarts.get(r.key);
                if (o) {
                  openStarts.delete(r.key);
                  emitRange(NsysEventType.startEnd, o, ts, t.tid);
                } else if (!r.compact && gilDomains.has(r.domain)) {
                  if (Math.floor(r.key / 2 ** 32) !== t.slot) gilCrossEnds.set(r.key, { ts, tid: t.tid });
                } else if (!r.compact) {
                  // Started on a thread read later. (A compact end always ends a range of its own thread,
                  // already read: not found means a GIL range, which pass 3 pairs, or a dropped start.)
                  earlyEnds.set(r.key, { ts, tid: t.tid });
                }
                break;
              }
              case RawKind.mark:
                if (gilDomains.has(r.domain)) break;
                insertEvent(openRange(r, ts, t.tid, dom(r.domain), null), strings, null, NsysEventType.mark, globalTid(pid, t.tid), null);
                events++;
                break;
              case RawKind.domain:
                maxDomain = Math.max(maxDomain, r.domain);
                point(NsysEventType.domainCreate, ts, r.domain, t.tid, r.text ?? '');
                break;
              case RawKind.domainEnd:
                point(NsysEventType.domainDestroy, ts, r.domain, t.tid, null);
                break;
              case RawKind.category:
                point(NsysEventType.category, ts, r.domain, t.tid, r.text ?? '', r.value);
                break;
              case RawKind.threadName:
                point(NsysEventType.threadName, ts, 0, r.value, r.text ?? '');
                insThreadName.run(stringId(r.text ?? ''), 0, globalTid(pid, r.value));
                break;
              case RawKind.thread:
                // Recorded at the thread's first event and at its end: the last name wins.
                if (r.text) osNames.set(globalTid(pid, r.value), r.text);
                break;
              case RawKind.resource:
                resources.set(r.key, [globalTid(pid, t.tid), dom(r.domain), r.key, r.identifierType, uint64ForSqlite(r.identifier), r.stringId ? (strings.get(r.stringId) ?? null) : null, r.text, ts]);
                break;
              case RawKind.resourceEnd: {
                const row = resources.get(r.key);
                if (row) {
                  resources.delete(r.key);
                  insResource.run(...row, ts);
                }
                break;
              }
              default:
                break;
            }
          });
          // Ranges still open when the thread's record ends are cut at process end, as nsys does.
          for (const s of stacks.values()) {
            for (const o of s.reverse()) emitRange(NsysEventType.pushPop, o, processEnd, null);
          }
        }
        // OS names at the priority nsys gives them (20); nvtxNameOsThread names (0) win.
        for (const [gt, name] of osNames) insThreadName.run(stringId(name), 20, gt);
        for (const o of openStarts.values()) emitRange(NsysEventType.startEnd, o, processEnd, null);
        for (const row of resources.values()) insResource.run(...row, null);
        // Pass 3 (after every image's other rows): the GIL rows of this program image in start order,
        // across its threads, so that a reader can stream each GIL straight from the table (rowid
        // order is time order).
        if (gilDomains.size > 0) {
          gilImages.push({
            file,
            write: (image: RawTraceFile) => {
              const messageIds = [WAITING_MESSAGE, HOLDING_MESSAGE, DROP_REQUEST_MESSAGE].map((m) => stringIds.get(m));
              const kindOf = (o: OpenRange, textId: number | null) => (textId !== null ? messageIds.indexOf(textId) : gilMessageKind(o.text));
              const cursors = image.threads.map((t) => new GilRowCursor(image, t, gilDomains, gilCrossEnds, ticks, dom, processEnd, image.chunkBuffer()));
              for (;;) {
                let best: GilRowCursor | null = null;
                for (const c of cursors) {
                  const head = c.peek();
                  if (head && (!best || head.o.start < best.peek()!.o.start)) best = c;
                }
                if (!best) break;
                const row = best.take();
                if (row.eventType === NsysEventType.startEnd) row.o.rangeId = ++rangeCounter;
                const gt = globalTid(pid, row.o.tid);
                const textId = insertEvent(row.o, strings, row.end, row.eventType, gt, row.endTid === null ? null : globalTid(pid, row.endTid));
                events++;
                if (textId !== undefined) gilSummary.add(kindOf(row.o, textId), pid, gt, row.o.payloadType ? Number(row.o.payload) : 0, row.o.start, row.end);
              }
            },
          });
        }
        // Watchdog samples of this program image: hold starts in this file's ticks, like its ranges.
        for (const s of samples.get(pid) ?? []) {
          if (s.ns < h.startNs || s.ns > processEnd + 1e9) continue;
          insSample.run(globalTid(pid, s.tid), ticks.toNs(s.holdSince), s.ns, s.state, s.wchan, ...s.values);
          sampleRows++;
        }

        domainBase.set(pid, base + maxDomain);
        const name = h.argv[0] ?? `pid ${pid}`;
        processNames.set(pid, name);
        insProcessInfo.run(globalPid(pid), pid, h.ppid, h.forkedFrom || null, h.startNs, processEnd, h.endNs === null ? 0 : 1, h.droppedEvents, h.argv.join(' '), basename(file));
      } finally {
        raw.close();
      }
    }
    flushRows();
    // The GIL rows come last, in one block: a query for the other rows (the report's slow ranges,
    // blame, domains) reads only the rowids before it.
    const lastRowid = () => Number(db.prepare('SELECT max(rowid) FROM NVTX_EVENTS').pluck().get() ?? 0);
    const firstGilRowid = lastRowid() + 1;
    for (const image of gilImages) {
      const raw = new RawTraceFile(image.file);
      try {
        image.write(raw);
      } finally {
        raw.close();
      }
    }
    flushRows();
    const summary = gilSummary.result(firstGilRowid, lastRowid());
    const insProcess = db.prepare('INSERT INTO PROCESSES (globalPid, pid, name) VALUES (?, ?, ?)');
    for (const [pid, name] of processNames) insProcess.run(globalPid(pid), pid, name);
    const insEnum = db.prepare('INSERT INTO ENUM_NSYS_EVENT_TYPE (id, name, label) VALUES (?, ?, ?)');
    for (const [id, name] of EVENT_TYPE_NAMES) insEnum.run(id, name, name);
    const insMeta = db.prepare('INSERT INTO GILNVTX_META (key, value) VALUES (?, ?)');
    for (const [k, v] of Object.entries({
      producer: PRODUCER,
      clock: COLLECTOR_CLOCK,
      // How the collector read time: `tsc` (converted to CLOCK_MONOTONIC through calibration pairs) or
      // `clock_gettime`; several values, comma-separated, when processes differed.
      timestampSource: [...timestampSources].sort().join(','),
      version: traceFormatVersion(),
      timeUnit: 'ns',
      // CLOCK_MONOTONIC bounds of the recording: first collector attach, last process end.
      traceStart: String(traceStart),
      traceEnd: String(traceEnd),
      processes: String(processNames.size),
      droppedEvents: String(dropped),
      // Processes a watchdog watched (long-hold samples can exist only for those).
      watchedProcesses: String(watched),
      holdSamples: String(sampleRows),
      // Lets the report skip counting the GIL rows (gil-summary.ts).
      ...(summary ? { [GIL_SUMMARY_KEY]: JSON.stringify(summary) } : {}),
    })) insMeta.run(k, v);
  });
  run();
  return { processes: processNames.size, threads, events, records, withoutCleanExit, droppedEvents: dropped, selfAllocatedChunks: selfAllocated, holdSamples: sampleRows };
}

/** A GIL row waiting to be written: the range (or mark), its end, its NVTX_EVENTS type. */
interface GilRow {
  o: OpenRange;
  end: number | null;
  eventType: number;
  /** The thread that ended the range, when not its own. */
  endTid: number | null;
}

/**
 * One thread's GIL rows (ranges and marks of the CPython GIL domain) in start order, decoded a chunk at
 * a time. Ranges close in start order on one thread except what happens inside an open range (a drop
 * request during a wait), so finished rows wait until no open range of the thread started earlier.
 * The patch always ends a GIL range on the thread that began it; one ended elsewhere through the API
 * comes from pass 2 (`crossEnds`). One that never ends is cut at the process's end, as in pass 2.
 */
class GilRowCursor {
  private next = 0;
  private readonly state: DecodeState = { counter: 0 };
  private readonly open = new Map<number, OpenRange>();
  private readonly stacks = new Map<number, OpenRange[]>();
  private pending: GilRow[] = [];
  private ready: GilRow[] = [];
  private at = 0;
  private readonly visit: (r: RawRecord) => void;
  private readonly thread: { slot: number; tid: number; chunks: RawChunk[] };

  constructor(
    private readonly raw: RawTraceFile,
    thread: { slot: number; tid: number; chunks: RawChunk[] },
    gilDomains: Set<number>,
    crossEnds: Map<number, { ts: number; tid: number }>,
    ticks: TickConverter,
    dom: (local: number) => number,
    private readonly processEnd: number,
    private readonly buffer: Buffer,
  ) {
    this.thread = thread;
    const tid = thread.tid;
    this.visit = (r) => {
      switch (r.kind) {
        case RawKind.start: {
          if (!gilDomains.has(r.domain)) break;
          const o = openRange(r, ticks.toNs(r.ts), tid, dom(r.domain), null);
          const cross = crossEnds.get(r.key);
          if (cross) this.pending.push({ o, end: cross.ts, eventType: NsysEventType.startEnd, endTid: cross.tid });
          else this.open.set(r.key, o);
          break;
        }
        case RawKind.end: {
          const o = this.open.get(r.key);
          if (o) {
            this.open.delete(r.key);
            this.pending.push({ o, end: ticks.toNs(r.ts), eventType: NsysEventType.startEnd, endTid: null });
          }
          break;
        }
        case RawKind.push:
          if (gilDomains.has(r.domain)) {
            let s = this.stacks.get(r.domain);
            if (!s) this.stacks.set(r.domain, (s = []));
            s.push(openRange(r, ticks.toNs(r.ts), tid, dom(r.domain), null));
          }
          break;
        case RawKind.pop: {
          const o = gilDomains.has(r.domain) ? this.stacks.get(r.domain)?.pop() : undefined;
          if (o) this.pending.push({ o, end: ticks.toNs(r.ts), eventType: NsysEventType.pushPop, endTid: null });
          break;
        }
        case RawKind.mark:
          if (gilDomains.has(r.domain)) this.pending.push({ o: openRange(r, ticks.toNs(r.ts), tid, dom(r.domain), null), end: null, eventType: NsysEventType.mark, endTid: null });
          break;
        default:
          break;
      }
    };
  }

  peek(): GilRow | undefined {
    while (this.at === this.ready.length && this.fill()) {
      /* decode until rows are ready or the thread is done */
    }
    return this.ready[this.at];
  }

  take(): GilRow {
    return this.ready[this.at++]!;
  }

  /** Decodes the next chunk; false when there was none left. */
  private fill(): boolean {
    this.ready = [];
    this.at = 0;
    if (this.next >= this.thread.chunks.length) {
      if (this.pending.length === 0 && this.open.size === 0 && ![...this.stacks.values()].some((s) => s.length)) return false;
      // The thread's record ends: what is still open is cut at the process's end.
      for (const o of this.open.values()) this.pending.push({ o, end: this.processEnd, eventType: NsysEventType.startEnd, endTid: null });
      for (const s of this.stacks.values()) for (const o of s.reverse()) this.pending.push({ o, end: this.processEnd, eventType: NsysEventType.pushPop, endTid: null });
      this.open.clear();
      this.stacks.clear();
      this.release(Infinity);
      return true;
    }
    this.raw.decode(this.thread, this.visit, { from: this.next, to: this.next + 1, state: this.state, buffer: this.buffer });
    this.next++;
    let oldestOpen = Infinity;
    for (const o of this.open.values()) if (o.start < oldestOpen) oldestOpen = o.start;
    for (const s of this.stacks.values()) if (s.length && s[0]!.start < oldestOpen) oldestOpen = s[0]!.start;
    this.release(oldestOpen);
    return true;
  }

  /** Moves the pending rows that start before `limit` to `ready`, in start order. */
  private release(limit: number): void {
    this.pending.sort((a, b) => a.o.start - b.o.start);
    let k = 0;
    while (k < this.pending.length && this.pending[k]!.o.start < limit) k++;
    this.ready = this.pending.slice(0, k);
    this.pending = this.pending.slice(k);
  }
}
