// The formatters (and the analyses they call) work on a LoadedTrace; they must not pull in the loader,
// and with it SQLite and nsys, to get at a helper. Checked on the compiled modules, whose imports are
// the ones Node follows (type-only imports are gone there).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { gilDomainFilter } from '../../lib/report/source-sqlite.js';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

/** Every module `entry` reaches through static and dynamic imports: files under dist, and bare package names. */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const todo = [resolve(DIST, entry)];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    if (!file.startsWith('/')) continue;
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      todo.push(spec.startsWith('.') ? resolve(dirname(file), spec) : spec);
    }
  }
  return seen;
}

describe('lib/report layering', () => {
  it.each(['format-text.js', 'format-json.js', 'format-html.js', 'format-perfetto.js', 'analyze.js'])('report/%s reaches neither the loader, nor SQLite, nor nsys', (name) => {
    const entry = join('report', name);
    expect(existsSync(join(DIST, entry)), `${entry} is built (npx tsc -p tsconfig.build.json)`).toBe(true);
    const deps = [...reachable(entry)].map((d) => (d.startsWith(DIST) ? d.slice(DIST.length) : d));
    expect(deps.filter((d) => d === 'report/load.js' || d.startsWith('nsys/run') || d === 'better-sqlite3')).toEqual([]);
  });

  it('the GIL row filter is built for the alias a query gives NVTX_EVENTS', () => {
    const domains = [{ domainId: 1, pid: 5 }, { domainId: 1, pid: 6 }, { domainId: 3, pid: 7 }];
    expect(gilDomainFilter(domains, 'n')).toBe('(n.domainId = 1 AND ((n.globalTid >> 24) & 16777215) IN (5, 6)) OR (n.domainId = 3 AND ((n.globalTid >> 24) & 16777215) IN (7))');
    expect(gilDomainFilter(domains)).toBe('(domainId = 1 AND ((globalTid >> 24) & 16777215) IN (5, 6)) OR (domainId = 3 AND ((globalTid >> 24) & 16777215) IN (7))');
    expect(gilDomainFilter([], 'n')).toBe('0');
  });
});
