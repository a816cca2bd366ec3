// Every public call, under a real NVTX consumer: fixtures/every-api.mjs runs under
// `nsys profile --trace=nvtx` and each call is looked up in the SQLite export.
// Skips locally without nsys; fails in CI (GIL_NVTX_REQUIRE_NSYS=1).
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GilNvtxError } from '../../lib/errors.js';
import { EVENT_TYPE_NAMES, NsysEventType, pidOfSql, tidOfSql } from '../../lib/nsys/export-schema.js';
import { nsysProfile } from '../../lib/nsys/run.js';
import { nsysGate } from '../helpers/tools.js';
import { ensureBuilt, FIXTURES } from './helpers.js';

interface Facts {
  pid: number;
  mainTid: number;
  workerTid: number;
  ioCategory: number;
  farHandle: number;
  httpCategory: number;
  farDomainIndex: number;
  status: { mode: string; toolAttached: boolean };
  stats: { openRanges: number };
}

interface Row {
  start: bigint;
  end: bigint | null;
  eventType: number;
  rangeId: bigint | null;
  category: number | null;
  color: bigint | null;
  name: string | null;
  registered: number;
  pid: number;
  tid: number;
  endTid: number | null;
  domainId: number;
  uint64Value: bigint | null;
  int64Value: bigint | null;
  doubleValue: number | null;
  uint32Value: bigint | null;
  int32Value: bigint | null;
  floatValue: number | null;
}

// The event types and globalTid masks the report and the merge use: this export is what they must match.
const { pushPop: PUSH_POP, startEnd: START_END, mark: MARK, category: CATEGORY, threadName: THREAD_NAME, domainCreate: DOMAIN_CREATE } = NsysEventType;

describe.skipIf(nsysGate.skip)('under nsys profile --trace=nvtx: every API call reaches NVTX_EVENTS', () => {
  let dir: string;
  let facts: Facts;
  let rows: Row[];
  let db: Database.Database;
  let domainId: number;

  const one = (name: string, eventType?: number): Row => {
    const found = rows.filter((r) => r.name === name && (eventType === undefined || r.eventType === eventType));
    expect(found, `exactly one event named ${JSON.stringify(name)}`).toHaveLength(1);
    return found[0]!;
  };

  beforeAll(async () => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-nsys-'));
    const env = { ...process.env };
    delete env.GIL_NVTX_FORCE_NATIVE;
    const profile = () =>
      nsysProfile([process.execPath, join(FIXTURES, 'every-api.mjs')], { output: join(dir, 'every-api'), env, timeoutSec: 120 });
    let run: Awaited<ReturnType<typeof profile>>;
    try {
      run = await profile();
    } catch (err) {
      // Show what nsys said (nsysProfile already ran it twice if the first run wrote no report).
      const e = err as GilNvtxError;
      throw new Error(`${e.message}\n${e.hint ?? ''}`);
    }
    const line = run.output.split('\n').find((l) => l.startsWith('{"pid"'));
    if (!line) throw new Error(`the fixture printed no facts; nsys said:\n${run.output}`);
    facts = JSON.parse(line) as Facts;
    db = new Database(run.sqlite!, { readonly: true });
    db.defaultSafeIntegers(true);
    rows = (
      db
        .prepare(
          `SELECT e.start, e.end, e.eventType, e.rangeId, e.category, e.color,
                  COALESCE(s.value, e.text) AS name, e.textId IS NOT NULL AS registered,
                  ${pidOfSql('e.globalTid')} AS pid, ${tidOfSql('e.globalTid')} AS tid,
                  CASE WHEN e.endGlobalTid IS NULL THEN NULL ELSE ${tidOfSql('e.endGlobalTid')} END AS endTid,
                  e.domainId, e.uint64Value, e.int64Value, e.doubleValue, e.uint32Value, e.int32Value, e.floatValue
             FROM NVTX_EVENTS e LEFT JOIN StringIds s ON s.id = e.textId
            ORDER BY e.start`,
        )
        .all() as Record<string, unknown>[]
    ).map((r) => ({
      ...r,
      eventType: Number(r.eventType),
      category: r.category === null ? null : Number(r.category),
      registered: Number(r.registered),
      pid: Number(r.pid),
      tid: Number(r.tid),
      endTid: r.endTid === null ? null : Number(r.endTid),
      domainId: Number(r.domainId),
    })) as Row[];
    domainId = one('gil-nvtx test', DOMAIN_CREATE).domainId;
  }, 300_000);

  afterAll(() => {
    db?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('ran on the native binding because nsys attached its tool', () => {
    expect(facts.status.mode).toBe('native');
    expect(facts.status.toolAttached).toBe(true);
    expect(facts.stats.openRanges).toBe(0);
    expect(facts.mainTid).toBe(facts.pid);
    expect(facts.workerTid).not.toBe(facts.mainTid);
    for (const r of rows) expect(r.pid).toBe(facts.pid);
  });

  it("nsys's own ENUM_NSYS_EVENT_TYPE names the event types as lib/nsys/export-schema.ts does", () => {
    const rows = db.prepare('SELECT id, name, label FROM ENUM_NSYS_EVENT_TYPE').raw(true).all() as [bigint, string, string | null][];
    const byId = new Map(rows.map(([id, name, label]) => [Number(id), [name, label]]));
    expect(EVENT_TYPE_NAMES.map(([id]) => [id, byId.get(id)])).toEqual(EVENT_TYPE_NAMES.map(([id, name]) => [id, [name, name]]));
  });

  it('domain(): one domain-create event, and the domain id on its events', () => {
    expect(domainId).toBeGreaterThan(0);
    expect(rows.filter((r) => r.eventType === DOMAIN_CREATE && r.name === 'gil-nvtx test')).toHaveLength(1);
    expect(one('inner range').domainId).toBe(domainId);
  });

  it('push/pop and range(): registered and plain names, nested on the calling thread', () => {
    const outer = one('registered outer', PUSH_POP);
    const inner = one('inner range', PUSH_POP);
    expect(outer.registered).toBe(1);
    expect(inner.tid).toBe(facts.mainTid);
    expect(inner.start > outer.start && inner.end! < outer.end!).toBe(true);
    // The extra pop on an empty stack produced no event and did not close anything else.
    expect(rows.filter((r) => r.eventType === PUSH_POP && r.domainId === domainId && r.tid === facts.mainTid)).toHaveLength(4);
  });

  it('attributes: ARGB color, named and numbered categories, payload', () => {
    const colored = one('colored', PUSH_POP);
    expect(colored.color).toBe(0xff00aa00n);
    expect(colored.category).toBe(facts.ioCategory);
    expect(colored.int64Value).toBe(42n);
    expect(one('pushed with category 7').category).toBe(7);
    const categories = rows.filter((r) => r.eventType === CATEGORY).map((r) => [r.domainId, r.category, r.name]);
    expect(categories).toContainEqual([domainId, 7, 'seven']);
    expect(categories).toContainEqual([domainId, facts.ioCategory, 'io']);
    expect(categories).toContainEqual([0, 3, 'default category']);
  });

  it('payloads land in the column of their type', () => {
    expect(one('payload int32', MARK).int32Value).toBe(-5n);
    expect(one('payload uint32', MARK).uint32Value).toBe(4000000000n);
    expect(one('payload int64', MARK).int64Value).toBe(-7n);
    // SQLite stores the unsigned 64 bits as a signed integer.
    expect(BigInt.asUintN(64, one('payload uint64', MARK).uint64Value!)).toBe(2n ** 63n + 1n);
    expect(one('payload float', MARK).floatValue).toBe(1.5);
    expect(one('payload double', MARK).doubleValue).toBe(2.25);
  });

  it('marks: registered, plain and non-ASCII text', () => {
    expect(one('registered mark', MARK).registered).toBe(1);
    expect(one('ünïcødé ✓ 🚀', MARK).domainId).toBe(domainId);
  });

  it('start/end, trace() and disposed ranges are start/end ranges that end after their await', () => {
    const crosses = one('crosses await', START_END);
    expect(crosses.rangeId).not.toBeNull();
    expect(crosses.color).toBe(0xffff0000n);
    expect(crosses.end! > crosses.start).toBe(true);
    for (const name of ['traced', 'traced rejection', 'disposed']) {
      const r = one(name, START_END);
      expect(r.end, name).not.toBeNull();
      expect(r.domainId).toBe(domainId);
    }
    // Ending twice produced one range.
    expect(rows.filter((r) => r.name === 'crosses await')).toHaveLength(1);
  });

  it('strings and domains past the specialised fast callbacks take the generic path', () => {
    expect(facts.farHandle).toBeGreaterThan(256);
    const farDomain = one('far domain', DOMAIN_CREATE).domainId;
    expect(facts.farDomainIndex).toBeGreaterThan(64);
    const range = one('far range', PUSH_POP);
    const mark = one('far mark', MARK);
    expect([range.domainId, mark.domainId]).toEqual([farDomain, farDomain]);
    expect(range.registered).toBe(1);
    expect(mark.start > range.start && mark.start < range.end!).toBe(true);
  });

  it('instrumentHttp(): one start/end range per request, named by method and path', () => {
    const request = one('GET /hello', START_END);
    expect(request.domainId).toBe(domainId);
    expect(request.category).toBe(facts.httpCategory);
    expect(request.end! > request.start).toBe(true);
  });

  it('the default domain: range, mark, trace, start, registered push', () => {
    expect(one('default range', PUSH_POP).domainId).toBe(0);
    expect(one('default mark', MARK).int64Value).toBe(3n);
    expect(one('default trace', START_END).domainId).toBe(0);
    expect(one('default start', START_END).domainId).toBe(0);
    const registered = one('default registered push', PUSH_POP);
    expect(registered.domainId).toBe(0);
    expect(registered.registered).toBe(1);
  });

  it('workers get their own thread; start/end ranges end on another thread (endGlobalTid)', () => {
    expect(one('worker range', PUSH_POP).tid).toBe(facts.workerTid);
    expect(one('worker mark', MARK).tid).toBe(facts.workerTid);
    const toWorker = one('ended in worker', START_END);
    expect([toWorker.tid, toWorker.endTid]).toEqual([facts.mainTid, facts.workerTid]);
    const toMain = one('ended in main', START_END);
    expect([toMain.tid, toMain.endTid]).toEqual([facts.workerTid, facts.mainTid]);
  });

  it('nameThread(): NVTX thread-name events and ThreadNames rows with priority 0', () => {
    expect(one('gil-nvtx main', THREAD_NAME).tid).toBe(facts.mainTid);
    expect(one('gil-nvtx worker', THREAD_NAME).tid).toBe(facts.workerTid);
    const names = db
      .prepare(`SELECT s.value AS name, t.priority, t.globalTid & 0xFFFFFF AS tid FROM ThreadNames t JOIN StringIds s ON s.id = t.nameId WHERE s.value LIKE 'gil-nvtx %'`)
      .all() as { name: string; priority: bigint; tid: bigint }[];
    expect(names.map((n) => [n.name, Number(n.priority), Number(n.tid)]).sort()).toEqual(
      [['gil-nvtx main', 0, facts.mainTid], ['gil-nvtx worker', 0, facts.workerTid]].sort(),
    );
  });

  it('resources: nsys 2022.4 records nothing for them (documented; the collector does)', () => {
    expect(rows.filter((r) => r.name?.startsWith('resource'))).toEqual([]);
    const strings = db.prepare(`SELECT count(*) AS n FROM StringIds WHERE value LIKE 'resource %'`).get() as { n: bigint };
    expect(strings.n).toBe(0n);
    const known = new Set<number>([PUSH_POP, START_END, MARK, CATEGORY, THREAD_NAME, DOMAIN_CREATE]);
    expect(rows.filter((r) => !known.has(r.eventType))).toEqual([]);
  });
});
