import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Comments give their reason, or point into docs/: a newcomer cannot open the design notes, the
// issue tracker or the folders outside the repository they were written against.
const ROOT = join(__dirname, '..', '..');
const CITATION = /notes\/[a-z-]+\.md|\bdesign\.md|\bstyle\.md|\bissue \d+|\bitem \d+|\.\.\/shared|shared\/notes/i;
const SELF = 'test/repo/citations.test.ts';

describe('comments cite nothing outside the repository', () => {
  it('no code file names a design note, an issue or an item', () => {
    const files = execFileSync('git', ['ls-files', '--', 'lib', 'native', 'scripts', 'bench', 'test', 'examples', 'test-support', 'bin', 'binding.gyp', 'CMakeLists.txt', '.ci'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((f) => (/\.(ts|mjs|cjs|js|c|cc|h|sh|py|gyp|txt)$/.test(f) || f.startsWith('.ci/')) && f !== SELF);
    expect(files.length).toBeGreaterThan(100);
    const hits: string[] = [];
    for (const f of files) {
      readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
        if (CITATION.test(line)) hits.push(`${f}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(hits).toEqual([]);
  });
});
