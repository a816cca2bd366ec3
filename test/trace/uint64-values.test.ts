import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeTrace } from '../../lib/trace/merge.js';
import { DIST_INDEX, ensureBuilt } from '../nvtx/helpers.js';
import { ensureCollector, runWithCollector, scratchDir } from './helpers.js';

// uint64 values use all 64 bits: payloads and resource identifiers of 2^63 and more (pointers with
// the top bit set, hashes) must merge, and read back exactly.
const SCRIPT = `
const nvtx = await import(${JSON.stringify(DIST_INDEX)});
const d = nvtx.domain('wide');
d.mark('top-bit', { payload: 2n ** 63n });
d.mark('max', { payload: 2n ** 64n - 1n });
d.mark('below', { payload: 2n ** 63n - 1n });
d.mark('negative', { payload: -(2n ** 63n) });
d.resource(2n ** 64n - 2n, 'high-pointer').destroy();
`;

let script: string;
beforeAll(() => {
  ensureBuilt();
  ensureCollector();
  script = join(scratchDir('uint64-script'), 'script.mjs');
  writeFileSync(script, SCRIPT);
}, 300_000);

describe('64-bit values in the merged trace', () => {
  it('uint64 payloads and resource identifiers >= 2^63 merge, stored as two\'s complement, read back unsigned', () => {
    const dir = scratchDir('uint64');
    const run = runWithCollector([process.execPath, script], join(dir, 'raw'));
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const db = join(dir, 'trace.sqlite');
    mergeTrace(join(dir, 'raw'), db);
    const sqlite = new Database(db, { readonly: true });
    try {
      sqlite.defaultSafeIntegers(true);
      const marks = sqlite
        .prepare("SELECT COALESCE(s.value, e.text) AS name, e.uint64Value AS u, e.int64Value AS i FROM NVTX_EVENTS e LEFT JOIN StringIds s ON s.id = e.textId WHERE e.eventType = 34")
        .all() as { name: string; u: bigint | null; i: bigint | null }[];
      const byName = new Map(marks.map((m) => [m.name, m]));
      expect(BigInt.asUintN(64, byName.get('top-bit')!.u!)).toBe(2n ** 63n);
      expect(BigInt.asUintN(64, byName.get('max')!.u!)).toBe(2n ** 64n - 1n);
      expect(byName.get('below')!.u ?? byName.get('below')!.i).toBe(2n ** 63n - 1n);
      expect(byName.get('negative')!.i).toBe(-(2n ** 63n));
      const [res] = sqlite.prepare('SELECT identifier, text, destroyed FROM GILNVTX_RESOURCES').all() as { identifier: bigint; text: string; destroyed: bigint | null }[];
      expect(res!.text).toBe('high-pointer');
      expect(BigInt.asUintN(64, res!.identifier)).toBe(2n ** 64n - 2n);
      expect(res!.destroyed).not.toBeNull();
    } finally {
      sqlite.close();
    }
  });
});
