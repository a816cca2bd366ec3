import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, scratch } from './helpers.js';

const CLI = join(import.meta.dirname, '../../bin/gil-nvtx.js');
const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
  const r = spawnSync(process.execPath, [CLI, 'report', ...args], { encoding: 'utf8', env: { ...process.env, CI: '', NO_COLOR: '', FORCE_COLOR: '', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('gil-nvtx report (CLI)', () => {
  it('--help', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--min-hold-ms/);
    expect(r.stdout).toMatch(/--perfetto FILE/);
  });

  it('prints text without colour when stdout is not a terminal, and writes HTML and Perfetto files', () => {
    const g = fixture('cli');
    const dir = scratch();
    const r = run([g.path, '--top', '2', '--html', join(dir, 'r.html'), '--perfetto', join(dir, 'p.json')]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/\u001b\[/);
    expect(r.stdout).toMatch(/Longest holds \(top 2\)/);
    expect(r.stderr).toMatch(/wrote .*r\.html/);
    expect(readFileSync(join(dir, 'r.html'), 'utf8')).toMatch(/^<!DOCTYPE html>/);
    expect(JSON.parse(readFileSync(join(dir, 'p.json'), 'utf8')).traceEvents.length).toBeGreaterThan(400);
    expect(run([g.path, '--quiet']).stderr).toBe('');
    expect(run([g.path], { FORCE_COLOR: '1' }).stdout).toMatch(/\u001b\[1m/);
  });

  it('--json prints the versioned report; --min-hold-ms filters the blamed holds', () => {
    const g = fixture('cli-json');
    const r = run([g.path, '--json', '--min-hold-ms', '100']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.schema).toBe('gil-nvtx.report/2');
    expect(report.options.minHoldNs).toBe(100_000_000);
    expect(report.blame).toHaveLength(1);
    expect(report.blame[0].durationNs).toBe(200_000_000);
  });

  it('exits 4 (and still reports) when holds overlap', () => {
    const g = fixture('cli-overlap', { overlapEvery: 10 });
    const r = run([g.path]);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/INVALID: \d+ overlapping holds/);
  });

  it('leaves no output file behind when the trace cannot be read', () => {
    const dir = scratch();
    const r = run([join(dir, 'missing.sqlite'), '--html', join(dir, 'x.html')]);
    expect(r.code).toBe(1);
    expect(existsSync(join(dir, 'x.html'))).toBe(false);
  });
});
