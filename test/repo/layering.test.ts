import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// What tests and benchmarks share (the synthetic trace generator, the traced C and Python programs) lives
// in test-support/, which imports neither: a benchmark edit cannot break a test's fixture unseen, and a
// test edit cannot change what a benchmark measures. Nothing of the three is shipped.
const ROOT = join(__dirname, '..', '..');
const SELF = 'test/repo/layering.test.ts';

function tracked(dir: string): string[] {
  return execFileSync('git', ['ls-files', '--', dir], { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((f) => /\.(ts|mts|mjs|cjs|js|sh|py|c)$/.test(f) && f !== SELF);
}

/** `file:line: text` of each code line (comments left out) where `pattern` matches. */
function codeLinesMatching(files: string[], pattern: RegExp): string[] {
  const hits: string[] = [];
  for (const f of files) {
    readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
      if (!/^\s*(\/\/|\*|\/\*|#)/.test(line) && pattern.test(line)) hits.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  return hits;
}

describe('tests, benchmarks and what they share', () => {
  it('tests use nothing from bench/', () => {
    const files = tracked('test');
    expect(files.length).toBeGreaterThan(50);
    expect(codeLinesMatching(files, /['"`](\.\.\/)*bench\//)).toEqual([]);
  });

  it('benchmarks use nothing from test/', () => {
    const files = tracked('bench');
    expect(files.length).toBeGreaterThan(5);
    expect(codeLinesMatching(files, /['"`](\.\.\/)*test\//)).toEqual([]);
  });

  it('test-support/ uses neither', () => {
    const files = tracked('test-support');
    expect(files.length).toBeGreaterThanOrEqual(3);
    expect(codeLinesMatching(files, /['"`](\.\.\/)*(test|bench)\//)).toEqual([]);
  });

  it('the package ships none of them', () => {
    const { files } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    expect(files.filter((f) => /^(test|test-support|bench)(\/|$)/.test(f))).toEqual([]);
  });

  it('no test retries itself: the one retry is nsysProfile’s, visible on stderr', () => {
    expect(codeLinesMatching([...tracked('test'), 'vitest.config.ts'], /\bretry:\s*\d/)).toEqual([]);
  });
});
