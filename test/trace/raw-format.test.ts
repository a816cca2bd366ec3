// raw_format.h is the contract between the collector, the watchdog and the merger; lib/trace/raw-format.ts
// restates it for TypeScript. This compiles a program against the C header that prints every constant
// as the compiler evaluates it (names read from the header, so a new one is checked too), and compares.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findNvtxHeaders } from '../../lib/nvtx-headers.js';
import * as F from '../../lib/trace/raw-format.js';
import { PACKAGE_ROOT } from '../../lib/trace/collector-path.js';

const COLLECTOR_DIR = join(PACKAGE_ROOT, 'native', 'collector');
const header = readFileSync(join(COLLECTOR_DIR, 'raw_format.h'), 'utf8');

/** The NVTX payload types PayloadColumn is keyed by, as nvToolsExt.h numbers them. */
const NVTX_PAYLOAD_TYPES = ['UNSIGNED_INT64', 'INT64', 'DOUBLE', 'UNSIGNED_INT32', 'INT32', 'FLOAT'].map((t) => `NVTX_PAYLOAD_TYPE_${t}`);

/** Every `#define NAME value` and enum member of the header (and NVTX_PAYLOAD_TYPES), as the C compiler evaluates them. */
function cConstants(): Map<string, number | string> {
  const names = [...header.matchAll(/^#define[ \t]+([A-Z_][A-Z0-9_]*)[ \t]+\S/gm)].map((m) => m[1]!).filter((n) => n !== 'GIL_NVTX_RAW_FORMAT_H');
  names.push(...[...header.matchAll(/^\s+(RAW_[A-Z_]+)\s*=\s*\d+,/gm)].map((m) => m[1]!), ...NVTX_PAYLOAD_TYPES);
  const strings = new Set(names.filter((n) => new RegExp(`^#define[ \\t]+${n}[ \\t]+"`, 'm').test(header)));
  const dir = mkdtempSync(join(tmpdir(), 'gil-raw-format-'));
  const src = join(dir, 'constants.c');
  writeFileSync(src, [
    '#include <stdio.h>',
    '#define NVTX_NO_IMPL',
    '#include <nvtx3/nvToolsExt.h>',
    '#include "raw_format.h"',
    'int main(void) {',
    ...names.map((n) => (strings.has(n) ? `  printf("%s s %s\\n", "${n}", ${n});` : `  printf("%s n %llu\\n", "${n}", (unsigned long long)(${n}));`)),
    '  return 0;',
    '}',
  ].join('\n'));
  const exe = join(dir, 'constants');
  const cc = spawnSync('cc', ['-std=c11', '-Wall', '-Werror', `-I${COLLECTOR_DIR}`, `-I${findNvtxHeaders().includeDir}`, src, '-o', exe], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`compiling the raw_format.h constants program failed:\n${cc.stderr}`);
  const run = spawnSync(exe, [], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the raw_format.h constants program failed: ${run.stderr}`);
  const out = new Map<string, number | string>();
  for (const line of run.stdout.split('\n').filter(Boolean)) {
    const [name, type, ...value] = line.split(' ');
    const v = value.join(' ');
    // Every numeric constant of the format fits a double exactly (powers of two, masks below 2^53).
    out.set(name!, type === 's' ? v : Number(BigInt(v)));
  }
  expect([...out.keys()].sort()).toEqual([...names].sort());
  return out;
}

describe('raw format: lib/trace/raw-format.ts says what native/collector/raw_format.h says', () => {
  const c = cConstants();
  const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, x: string) => x.toUpperCase());

  it('file, chunk and sample constants', () => {
    for (const name of ['RAW_MAGIC', 'RAW_FORMAT_VERSION', 'RAW_HEADER_SIZE', 'RAW_CHUNK_HEADER_SIZE', 'RAW_CHUNK_MAGIC', 'RAW_FILE_SUFFIX', 'RAW_CMDLINE_MAX', 'RAW_COMPACT_ARGS', 'RAW_RING_DEF_CHUNKS', 'RAW_RING_MIN_CHUNKS',
      'RAW_RANGE_SLOT_SHIFT', 'RAW_RANGE_COUNTER_MASK', 'RAW_RANGE_HOLD_BIT', 'RAW_RANGE_WAIT_BIT', 'SAMPLE_MAGIC', 'SAMPLE_FORMAT_VERSION', 'SAMPLE_HEADER_SIZE', 'SAMPLE_SIZE', 'SAMPLE_FILE_SUFFIX'] as const) {
      expect((F as Record<string, unknown>)[name], name).toBe(c.get(name));
    }
    expect(F.TickSource).toEqual({ ns: c.get('RAW_TICKS_NS'), tsc: c.get('RAW_TICKS_TSC') });
  });

  it('every header, chunk, watch and sample field offset', () => {
    const groups: [string, Record<string, number>][] = [['RAW_OFF_', F.HeaderOffset], ['RAW_CHUNK_OFF_', F.ChunkOffset], ['SAMPLE_OFF_', F.SampleOffset]];
    for (const [prefix, table] of groups) {
      const names = [...c.keys()].filter((k) => k.startsWith(prefix));
      expect(names.length, prefix).toBeGreaterThan(3);
      expect(Object.keys(table).sort(), prefix).toEqual(names.map((n) => camel(n.slice(prefix.length))).sort());
      for (const n of names) expect(table[camel(n.slice(prefix.length))], n).toBe(c.get(n));
    }
    expect(F.RawWatch).toEqual({
      offset: c.get('RAW_WATCH_OFFSET'), entrySize: c.get('RAW_WATCH_ENTRY_SIZE'), entries: c.get('RAW_WATCH_ENTRIES'),
      tid: c.get('RAW_WATCH_OFF_TID'), holdSince: c.get('RAW_WATCH_OFF_HOLD_SINCE'), holds: c.get('RAW_WATCH_OFF_HOLDS'), waitSince: c.get('RAW_WATCH_OFF_WAIT_SINCE'),
    });
    const metrics = [...c.keys()].filter((k) => k.startsWith('RAW_METRICS_'));
    const metricName = (n: string) => camel(n.slice('RAW_METRICS_'.length).replace(/^OFF_/, ''));
    expect(Object.keys(F.RawMetrics).sort()).toEqual(metrics.map(metricName).sort());
    for (const n of metrics) expect((F.RawMetrics as Record<string, number>)[metricName(n)], n).toBe(c.get(n));
  });

  it('record kinds, compact ops and attribute flags', () => {
    const kinds = [...c.keys()].filter((k) => /^RAW_[A-Z_]+$/.test(k) && typeof c.get(k) === 'number' && header.includes(`  ${k} =`));
    expect(Object.keys(F.RawKind).sort()).toEqual(kinds.map((k) => camel(k.slice(4))).sort());
    for (const k of kinds) expect(F.RawKind[camel(k.slice(4)) as keyof typeof F.RawKind], k).toBe(c.get(k));
    for (const [op, v] of Object.entries(F.RawOp)) expect(v, op).toBe(c.get(`RAW_OP_${op.toUpperCase()}`));
    for (const [flag, v] of Object.entries(F.RawFlag)) {
      const cName = `RAW_F_${flag.replace(/([A-Z])/g, '_$1').toUpperCase()}`;
      expect(v, cName).toBe(c.get(cName));
    }
  });

  it('payload columns are keyed by nvToolsExt.h\'s payload types', () => {
    const columns = ['uint64Value', 'int64Value', 'doubleValue', 'uint32Value', 'int32Value', 'floatValue'];
    expect(Object.fromEntries(NVTX_PAYLOAD_TYPES.map((t, i) => [c.get(t), columns[i]]))).toEqual(F.PayloadColumn);
  });
});
