// The API refuses the same misuse the same way whether calls are JS no-ops (no tool), go through the
// addon, or reach a real NVTX tool (the gil-nvtx collector): a profiled service must not start throwing,
// and an unprofiled one must not silently accept what would break under the profiler. Under the
// collector the trace also shows that nothing refused was recorded, and that edge payloads arrive exact.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mergeTrace } from '../../lib/trace/merge.js';
import { collectorEnv } from '../../lib/trace/run.js';
import { ensureCollector, readEvents, scratchDir } from '../trace/helpers.js';
import { FIXTURES, ensureBuilt, lastJson, runNode } from './helpers.js';

interface Misuse {
  mode: string;
  outcomes: [string, string][];
  domains: number;
}

const SCRIPT = join(FIXTURES, 'misuse.mjs');
const NOT_A_HANDLE = /^RangeError: gil-nvtx: (push|mark|start)\(\): argument 0 \(message\) must be a handle from registerString\(\) of this domain$/;
const ACCEPTED_PAYLOADS = [
  'payload int32 -2147483648',
  'payload int32 2147483647',
  'payload uint32 4294967295',
  'payload int64 -9223372036854776000',
  'payload int64 -9223372036854775808n',
  'payload uint64 9223372036854776000',
  'payload uint64 18446744073709551615n',
  'payload float NaN',
  'payload float Infinity',
  'payload float 3.4028234663852886e+38',
  'payload double NaN',
  'payload double -Infinity',
];

const runs: Record<string, Misuse> = {};
let rawDir: string;

beforeAll(async () => {
  ensureBuilt();
  rawDir = join(scratchDir('misuse'), 'raw');
  const modes: [string, NodeJS.ProcessEnv][] = [
    ['no tool', {}],
    ['addon, no tool', { GIL_NVTX_FORCE_NATIVE: '1' }],
    ['collector', collectorEnv(ensureCollector(), rawDir, {})],
  ];
  for (const [name, env] of modes) {
    const r = await runNode(SCRIPT, [], env);
    if (r.code !== 0) throw new Error(`misuse.mjs (${name}) exited ${r.code}: ${r.stderr}`);
    runs[name] = lastJson<Misuse>(r);
  }
}, 300_000);

describe('misuse: the same checks with and without a tool', () => {
  it('runs in the three modes', () => {
    expect(Object.values(runs).map((r) => r.mode)).toEqual(['noop-no-tool', 'native', 'native']);
  });

  it('gives the same outcome for every case in every mode', () => {
    expect(runs['addon, no tool']!.outcomes).toEqual(runs['no tool']!.outcomes);
    expect(runs.collector!.outcomes).toEqual(runs['no tool']!.outcomes);
  });

  it('refuses numbers that are not handles of the domain (42, 1.5, -1, NaN, another domain’s) on every path', () => {
    const handleCases = runs['no tool']!.outcomes.filter(([name]) => name.startsWith('d1.') || name.startsWith('default push'));
    expect(handleCases).toHaveLength(26);
    for (const [name, outcome] of handleCases) expect(outcome, name).toMatch(NOT_A_HANDLE);
  });

  it('refuses typed payloads that do not fit their type, and takes the edge values that do', () => {
    const payloads = runs['no tool']!.outcomes.filter(([name]) => name.startsWith('payload '));
    expect(payloads.filter(([, o]) => o === 'ok').map(([name]) => name)).toEqual(ACCEPTED_PAYLOADS);
    const refused = Object.fromEntries(payloads.filter(([, o]) => o !== 'ok'));
    for (const name of Object.keys(refused)) expect(refused[name], name).toMatch(/^RangeError: gil-nvtx: mark\(\): argument 1 \(payload\.(value|type)\) must be /);
    expect(refused['payload int32 1099511627776']).toContain('an integer from -2147483648 to 2147483647 (int32)');
    expect(refused['payload uint32 -1']).toContain('an integer from 0 to 4294967295 (uint32)');
    expect(Object.keys(refused)).toEqual(expect.arrayContaining(['payload int32 NaN', 'payload uint32 NaN', 'payload int64 NaN', 'payload uint64 NaN', 'payload float 1e+39']));
  });

  it('refuses the 4096th domain (the default one counts) and keeps the existing ones working', () => {
    for (const r of Object.values(runs)) {
      expect(Object.fromEntries(r.outcomes)['one domain too many']).toBe(
        'RangeError: gil-nvtx: domain(): argument 0 (name) must be new only while fewer than 4095 named domains exist',
      );
      expect(Object.fromEntries(r.outcomes)['an existing domain after the limit']).toBe('ok');
      expect(r.domains).toBe(4095);
    }
  });

  it('under the collector, records nothing that was refused and the accepted payloads exactly', () => {
    const db = join(rawDir, '..', 'trace.sqlite');
    mergeTrace(rawDir, db);
    const events = readEvents(db);
    // One push/pop range in all: d2's own; d1's refused pushes (another domain's handle among them) left none.
    expect(events.filter((e) => e.eventType === 59).map((e) => [e.domain, e.name])).toEqual([['misuse two', 'in two']]);
    const marks = events.filter((e) => e.eventType === 34 && e.name?.startsWith('payload '));
    expect(marks.map((e) => e.name)).toEqual(ACCEPTED_PAYLOADS);
    const payload = Object.fromEntries(marks.map((e) => [e.name, e.payload]));
    expect(payload['payload int32 -2147483648']).toBe('i32:-2147483648');
    expect(payload['payload uint32 4294967295']).toBe('u32:4294967295');
    expect(payload['payload int64 -9223372036854776000']).toBe('i64:-9223372036854775808');
    // uint64 columns hold the 64 bits as SQLite's signed integer, as nsys exports them.
    expect(payload['payload uint64 9223372036854776000']).toBe('u64:-9223372036854775808');
    expect(payload['payload uint64 18446744073709551615n']).toBe('u64:-1');
    expect(payload['payload float 3.4028234663852886e+38']).toBe('f32:3.4028234663852886e+38');
  });
});
