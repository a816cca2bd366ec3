// Every import in the package names its module literally, so that tsc, a bundler and a reader see the
// whole module graph: no `import(variable)` that hides a dependency (doctor once loaded the collector's
// module that way).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LIB = fileURLToPath(new URL('../lib/', import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

describe('module graph', () => {
  it('no dynamic import in lib/ takes anything but a string literal', () => {
    const hidden: string[] = [];
    for (const file of tsFiles(LIB)) {
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        // `import(` as an expression, not the `import('x').T` type syntax, whose argument is a literal anyway.
        for (const m of line.matchAll(/\bimport\(\s*([^)]*)\)/g)) {
          if (!/^(['"`])[^'"`$]*\1$/.test(m[1]!.trim())) hidden.push(`${file.slice(LIB.length)}:${i + 1}: ${line.trim()}`);
        }
      });
    }
    expect(hidden).toEqual([]);
  });
});
