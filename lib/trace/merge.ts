import { readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import Database from 'better-sqlite3';
import { GilNvtxError } from '../errors.js';
import { RAW_FILE_SUFFIX, RawKind } from './raw-format.js';
import { RawTraceFile, type RawRecord } from './raw-reader.js';
import { EVENT_TYPE_NAMES, NsysEventType, TRACE_INDEX_SQL, TRACE_SCHEMA_SQL, globalPid, globalTid } from './schema.js';
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
}

const GIL_DOMAIN = 'CPython GIL';

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

interface OpenRange {
  start: number;
  tid: number;
  domainId: number;
  rec: RawRecord;
  rangeId?: number;
}

/**
 * Merges the collector's per-process files into one SQLite file in the nsys export schema. Rows are
 * written as ranges close, so memory holds only open ranges and definitions, never the whole trace.
 * The database is built under a temporary name and renamed into place.
 */
export function mergeTrace(rawDir: string, output: string): MergeSummary {
  const files = rawTraceFiles(rawDir);
  if (files.length === 0) {
    throw new GilNvtxError(`No collector files (*${RAW_FILE_SUFFIX}) in ${rawDir}.`, {
      hint: 'Did the program make any NVTX call? Only processes that load NVTX (a patched CPython, the gil-nvtx Node addon, a C program with the NVTX headers) write a file. Is another NVTX tool (nsys) attached already?',
    });
  }
  const tmp = `${output}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const db = new Database(tmp);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec(TRACE_SCHEMA_SQL);
    const summary = writeAll(db, files);
    db.exec(TRACE_INDEX_SQL);
    db.close();
    renameSync(tmp, output);
    return { ...summary, output };
  } catch (err) {
    if (db.open) db.close();
    rmSync(tmp, { force: true });
    throw err;
  }
}

function writeAll(db: Database.Database, files: string[]): Omit<MergeSummary, 'output'> {
  // Positional parameters: this statement runs once per event (millions of times).
  const insEvent = db.prepare(
    `INSERT INTO NVTX_EVENTS (start, end, eventType, rangeId, category, color, text, globalTid, endGlobalTid, textId, domainId,
       uint64Value, int64Value, doubleValue, uint32Value, int32Value, floatValue)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const PAYLOAD_INDEX: Record<string, number> = { uint64Value: 11, int64Value: 12, doubleValue: 13, uint32Value: 14, int32Value: 15, floatValue: 16 };
  const row: unknown[] = new Array(17).fill(null);
  /** One NVTX_EVENTS row; `r` supplies category, color, message and payload. */
  const insertEvent = (
    r: RawRecord | null,
    resolveString: (id: number) => number | null,
    start: number,
    end: number | null,
    eventType: number,
    rangeId: number | null,
    gtid: number,
    endGtid: number | null,
    domainId: number,
    text: string | null = null,
    category: number | null = null,
  ) => {
    row.fill(null);
    row[0] = start;
    row[1] = end;
    row[2] = eventType;
    row[3] = rangeId;
    row[7] = gtid;
    row[8] = endGtid;
    row[10] = domainId;
    if (r) {
      row[4] = r.category ?? null;
      row[5] = r.color ?? null;
      if (r.stringId !== undefined) row[9] = resolveString(r.stringId);
      else row[6] = r.text ?? null;
      if (r.payload) row[PAYLOAD_INDEX[r.payload.column]!] = r.payload.value;
    } else {
      row[4] = category;
      row[6] = text;
    }
    insEvent.run(row);
  };
  const insString = db.prepare('INSERT INTO StringIds (id, value) VALUES (?, ?)');
  const insThreadName = db.prepare('INSERT INTO ThreadNames (nameId, priority, globalTid) VALUES (?, ?, ?)');
  const insCpu = db.prepare('INSERT INTO GILNVTX_RANGE_CPU (globalTid, start, end, cpuNs) VALUES (?, ?, ?, ?)');
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
  let threads = 0;
  let dropped = 0;
  let traceStart = Infinity;
  let traceEnd = 0;
  const withoutCleanExit: number[] = [];
  const timestampSources = new Set<string>();

  const run = db.transaction(() => {
    for (const file of files) {
      const raw = new RawTraceFile(file);
      try {
        const h = raw.header;
        const pid = h.pid;
        const base = domainBase.get(pid) ?? 0;
        let maxDomain = 0;
        const dom = (local: number) => (local === 0 ? 0 : local + base);

        // Pass 1: definitions (they may sit in any thread's chunks) and the last timestamp.
        const strings = new Map<number, number>(); // registered id -> StringIds id
        const domainNames = new Map<number, string>();
        let lastTick = -Infinity;
        const calibration = [...h.calibration];
        for (const t of raw.threads) {
          for (const r of raw.records(t)) {
            if (r.kind === RawKind.calibration) {
              calibration.push([r.ts, r.value!]);
              continue;
            }
            // The last NVTX call, not the thread-name bookkeeping written when threads end.
            if (r.kind !== RawKind.thread && r.ts > lastTick) lastTick = r.ts;
            if (r.kind === RawKind.string) strings.set(r.value!, stringId(r.text ?? ''));
            else if (r.kind === RawKind.domain) domainNames.set(r.domain, r.text ?? '');
          }
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
        const gilDomains = new Set([...domainNames].filter(([, n]) => n === GIL_DOMAIN).map(([d]) => d));

        // Pass 2: events, paired per thread and domain (push/pop) and per process (start/end).
        let rangeCounter = 0;
        const openStarts = new Map<string, OpenRange>();
        const earlyEnds = new Map<string, { ts: number; tid: number; cpuNs?: number }>();
        const resources = new Map<string, unknown[]>();
        const osNames = new Map<number, string>();

        const resolveString = (id: number) => strings.get(id) ?? null;
        const emitRange = (eventType: number, o: OpenRange, end: number, endTid: number | null, endCpu: number | undefined, rangeId: number | null) => {
          const gt = globalTid(pid, o.tid);
          // nsys fills endGlobalTid only when another thread ended the range.
          const endGt = endTid === null || endTid === o.tid ? null : globalTid(pid, endTid);
          insertEvent(o.rec, resolveString, o.start, end, eventType, rangeId, gt, endGt, o.domainId);
          events++;
          if (gilDomains.has(o.rec.domain) && o.rec.cpuNs !== undefined) {
            // Capped at the wall duration: converted TSC bounds can be a few ns off the thread's CPU clock reads.
            const cpu = endCpu !== undefined && (endTid === null || endTid === o.tid) ? Math.min(endCpu - o.rec.cpuNs, end - o.start) : null;
            insCpu.run(gt, o.start, end, cpu);
          }
        };
        /** Definition rows (domain, category, thread name): text inline, no payload. */
        const point = (eventType: number, r: RawRecord, tid: number, text: string | null, category: number | null = null) => {
          insertEvent(null, resolveString, r.ts, null, eventType, null, globalTid(pid, tid), null, dom(r.domain), text, category);
          events++;
        };

        for (const t of raw.threads) {
          threads++;
          const stacks = new Map<number, OpenRange[]>();
          for (const r of raw.records(t)) {
            r.ts = ticks.toNs(r.ts);
            switch (r.kind) {
              case RawKind.push: {
                let s = stacks.get(r.domain);
                if (!s) stacks.set(r.domain, (s = []));
                s.push({ start: r.ts, tid: t.tid, domainId: dom(r.domain), rec: r });
                break;
              }
              case RawKind.pop: {
                const o = stacks.get(r.domain)?.pop();
                // A pop with nothing open (or a fork child popping its parent's range) is ignored, as nsys does.
                if (o) emitRange(NsysEventType.pushPop, o, r.ts, null, r.cpuNs, null);
                break;
              }
              case RawKind.start: {
                const o: OpenRange = { start: r.ts, tid: t.tid, domainId: dom(r.domain), rec: r, rangeId: ++rangeCounter };
                const e = earlyEnds.get(r.id!);
                if (e) {
                  earlyEnds.delete(r.id!);
                  emitRange(NsysEventType.startEnd, o, e.ts, e.tid, e.cpuNs, o.rangeId!);
                } else {
                  openStarts.set(r.id!, o);
                }
                break;
              }
              case RawKind.end: {
                const o = openStarts.get(r.id!);
                if (o) {
                  openStarts.delete(r.id!);
                  emitRange(NsysEventType.startEnd, o, r.ts, t.tid, r.cpuNs, o.rangeId!);
                } else {
                  earlyEnds.set(r.id!, { ts: r.ts, tid: t.tid, cpuNs: r.cpuNs }); // started on a thread read later
                }
                break;
              }
              case RawKind.mark:
                insertEvent(r, resolveString, r.ts, null, NsysEventType.mark, null, globalTid(pid, t.tid), null, dom(r.domain));
                events++;
                break;
              case RawKind.domain:
                maxDomain = Math.max(maxDomain, r.domain);
                point(NsysEventType.domainCreate, r, t.tid, r.text ?? '');
                break;
              case RawKind.domainEnd:
                point(NsysEventType.domainDestroy, r, t.tid, null);
                break;
              case RawKind.category:
                point(NsysEventType.category, r, t.tid, r.text ?? '', r.value);
                break;
              case RawKind.threadName:
                point(NsysEventType.threadName, r, r.value!, r.text ?? '');
                insThreadName.run(stringId(r.text ?? ''), 0, globalTid(pid, r.value!));
                break;
              case RawKind.thread:
                // Recorded at the thread's first event and at its end: the last name wins.
                if (r.text) osNames.set(globalTid(pid, r.value!), r.text);
                break;
              case RawKind.resource:
                resources.set(r.id!, [
                  globalTid(pid, t.tid),
                  dom(r.domain),
                  Number(r.id),
                  r.identifierType,
                  r.identifier! <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(r.identifier) : r.identifier,
                  r.stringId === undefined ? null : (strings.get(r.stringId) ?? null),
                  r.text ?? null,
                  r.ts,
                ]);
                break;
              case RawKind.resourceEnd: {
                const row = resources.get(r.id!);
                if (row) {
                  resources.delete(r.id!);
                  insResource.run(...row, r.ts);
                }
                break;
              }
              default:
                break;
            }
          }
          // Ranges still open when the thread's record ends are cut at process end, as nsys does.
          for (const s of stacks.values()) {
            for (const o of s.reverse()) emitRange(NsysEventType.pushPop, o, processEnd, null, undefined, null);
          }
        }
        // OS names at the priority nsys gives them (20); nvtxNameOsThread names (0) win.
        for (const [gt, name] of osNames) insThreadName.run(stringId(name), 20, gt);
        for (const o of openStarts.values()) emitRange(NsysEventType.startEnd, o, processEnd, null, undefined, o.rangeId!);
        for (const row of resources.values()) insResource.run(...row, null);

        domainBase.set(pid, base + maxDomain);
        const name = h.argv[0] ?? `pid ${pid}`;
        processNames.set(pid, name);
        insProcessInfo.run(globalPid(pid), pid, h.ppid, h.forkedFrom || null, h.startNs, processEnd, h.endNs === null ? 0 : 1, h.droppedEvents, h.argv.join(' '), basename(file));
      } finally {
        raw.close();
      }
    }
    const insProcess = db.prepare('INSERT INTO PROCESSES (globalPid, pid, name) VALUES (?, ?, ?)');
    for (const [pid, name] of processNames) insProcess.run(globalPid(pid), pid, name);
    const insEnum = db.prepare('INSERT INTO ENUM_NSYS_EVENT_TYPE (id, name, label) VALUES (?, ?, ?)');
    for (const [id, name, label] of EVENT_TYPE_NAMES) insEnum.run(id, name, label);
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
    })) insMeta.run(k, v);
  });
  run();
  return { processes: processNames.size, threads, events, withoutCleanExit, droppedEvents: dropped };
}
