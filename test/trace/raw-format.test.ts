// raw_format.h is the contract between the collector, the watchdog and the merger; lib/trace/raw-format.ts
// restates it for TypeScript. This reads the C header and checks every constant the reader uses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as F from '../../lib/trace/raw-format.js';
import { PACKAGE_ROOT } from '../../lib/trace/collector-path.js';

const header = readFileSync(join(PACKAGE_ROOT, 'native', 'collector', 'raw_format.h'), 'utf8');

/** Every `#define NAME value` and enum member of the header, evaluated (numbers, shifts, strings). */
function cConstants(): Map<string, number | string> {
  const out = new Map<string, number | string>();
  const value = (expr: string): number | string => {
    const e = expr.replace(/\/\*.*?\*\//g, '').trim();
    const str = /^"(.*)"$/.exec(e);
    if (str) return str[1]!;
    const js = e.replace(/(\d+|0x[0-9a-f]+)u(ll)?\b/gi, '$1').replace(/\b[A-Z_][A-Z0-9_]*\b/g, (name) => {
      const v = out.get(name);
      if (typeof v !== 'number') throw new Error(`${name} used before its definition in raw_format.h`);
      return String(v);
    });
    if (!/^[\d\s()+\-*/<>x0-9a-f|&]+$/i.test(js)) throw new Error(`cannot evaluate '${e}'`);
    return Number(new Function(`return (${js.replace(/(\d+)\s*<<\s*(\d+)/g, '($1 * 2 ** $2)')})`)());
  };
  for (const m of header.matchAll(/^#define[ \t]+([A-Z_][A-Z0-9_]*)[ \t]+(.+)$/gm)) {
    if (m[1] === 'GIL_NVTX_RAW_FORMAT_H') continue;
    out.set(m[1]!, value(m[2]!));
  }
  for (const m of header.matchAll(/^\s+(RAW_[A-Z_]+)\s*=\s*(\d+),/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

describe('raw format: lib/trace/raw-format.ts says what native/collector/raw_format.h says', () => {
  const c = cConstants();
  const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, x: string) => x.toUpperCase());

  it('file, chunk and sample constants', () => {
    for (const name of ['RAW_MAGIC', 'RAW_FORMAT_VERSION', 'RAW_HEADER_SIZE', 'RAW_CHUNK_HEADER_SIZE', 'RAW_CHUNK_MAGIC', 'RAW_CMDLINE_MAX', 'RAW_COMPACT_ARGS', 'RAW_RANGE_SLOT_SHIFT',
      'SAMPLE_MAGIC', 'SAMPLE_FORMAT_VERSION', 'SAMPLE_HEADER_SIZE', 'SAMPLE_SIZE'] as const) {
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
      tid: c.get('RAW_WATCH_OFF_TID'), holdSince: c.get('RAW_WATCH_OFF_HOLD_SINCE'), holds: c.get('RAW_WATCH_OFF_HOLDS'),
    });
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
});
