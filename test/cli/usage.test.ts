// Every command reads its arguments through one parser (lib/cli/args.ts): a mistake in how it was
// called is one line on stderr and exit status 2, never a stack trace; output that cannot be written
// is one line and a non-zero exit. `profile` takes every option `report` has, from one definition.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../report/helpers.js';

const CLI = join(import.meta.dirname, '../../bin/gil-nvtx.js');
const COMMANDS = readdirSync(join(import.meta.dirname, '../../lib/cli/commands'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3));
// No nsys, no network, no apt: nothing here may get past argument checks into real work.
const emptyPath = mkdtempSync(join(tmpdir(), 'gil-nvtx-usage-path-'));

function gilNvtx(args: string[], opts: { stdout?: 'pipe' | number; path?: string } = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', opts.stdout ?? 'pipe', 'pipe'],
    env: { ...process.env, CI: '', PATH: opts.path ?? process.env.PATH, GIL_NVTX_OFFLINE: '1', GIL_NVTX_NO_APT: '1' },
  });
}

function expectOneLine(stderr: string, what: string): void {
  expect(stderr.trimEnd().split('\n'), `${what}: ${stderr}`).toHaveLength(1);
  expect(stderr, what).not.toMatch(/\n\s+at /);
}

function expectUsageError(args: string[], pattern: RegExp, path?: string): void {
  const r = gilNvtx(args, { path });
  const what = `gil-nvtx ${args.join(' ')}`;
  expect(r.status, `${what}: ${r.stderr}`).toBe(2);
  expectOneLine(r.stderr, what);
  expect(r.stderr, what).toMatch(pattern);
}

let trace: string;
beforeAll(() => {
  trace = fixture('usage').path;
});

describe('every command is a user\'s', () => {
  it('is listed by --help and has its section or mention in the README', () => {
    expect(COMMANDS).toEqual(expect.arrayContaining(['trace', 'record', 'dump', 'report', 'profile']));
    const help = gilNvtx(['--help']).stdout;
    const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
    for (const command of COMMANDS) {
      expect(help, command).toContain(command);
      expect(readme, `README mentions gil-nvtx ${command}`).toContain(`gil-nvtx ${command}`);
    }
    // The flight recorder's section (a merge once dropped it without a test noticing).
    expect(readme).toMatch(/^## Catching a spike in production$/m);
  });
});

describe('bad usage: one line, exit 2', () => {
  it('an unknown option of every command, trace before its -- included', () => {
    expectUsageError(['trace', '--bogus', '--', 'x'], /^gil-nvtx trace: Unknown option '--bogus'\. See `gil-nvtx trace --help`\.\n$/);
    for (const command of COMMANDS) expectUsageError([command, '--bogus'], new RegExp(`^gil-nvtx ${command}: Unknown option '--bogus'`));
    expectUsageError(['report', trace, '--top'], /^gil-nvtx report: Option '--top <value>' argument missing/);
  });

  it('a number option that is empty or not written as a number, before any file is looked at', () => {
    for (const command of [['report', 'missing.sqlite'], ['profile']]) {
      const tail = command[0] === 'profile' ? ['--', 'true'] : [];
      for (const top of ['', ' 3', '1e3', '0x10', '-1', '2.5']) expectUsageError([...command, `--top=${top}`, ...tail], /--top wants a whole number ≥ 0, not '/, emptyPath);
      for (const ms of ['', 'abc', '-1', '1,5']) expectUsageError([...command, `--min-hold-ms=${ms}`, ...tail], /--min-hold-ms wants a number ≥ 0, not '/, emptyPath);
      expectUsageError([...command, '--top', '', ...tail], /--top wants a whole number ≥ 0, not ''/, emptyPath);
      // A value that looks like an option is refused as such, on one line.
      expectUsageError([...command, '--top', '-1', ...tail], /Option '--top' argument is ambiguous/, emptyPath);
      expectUsageError([...command, '--gil-source', 'bogus', ...tail], /--gil-source wants one of auto, patch, nsys, not 'bogus'/, emptyPath);
    }
    expectUsageError(['profile', '--timeout', '', '--', 'true'], /--timeout wants a whole number ≥ 1, not ''/, emptyPath);
    expectUsageError(['build-python', '3.11.2', '--jobs', ''], /--jobs wants a whole number ≥ 1, not ''/);
    expectUsageError(['trace', '--watch-ms', '', '--', 'true'], /--watch-ms takes whole milliseconds/);
  });

  it('missing or extra positionals, contradictory flags and an unknown command', () => {
    expectUsageError(['report'], /no trace given/);
    expectUsageError(['report', 'a', 'b'], /One trace at a time/);
    expectUsageError(['merge'], /Which trace folder\?/);
    expectUsageError(['trace'], /No command to trace/);
    expectUsageError(['trace', '--format', 'svg', '--', 'true'], /Unknown --format 'svg'/);
    expectUsageError(['profile'], /no command to profile/, emptyPath);
    expectUsageError(['profile', '--python-gil', '--no-python-gil', '--', 'true'], /contradict each other/, emptyPath);
    expectUsageError(['demo', '--nsys', '--collector'], /exclude each other/);
    expectUsageError(['doctor', 'a', 'b'], /one interpreter at a time/);
    expectUsageError(['build-python'], /Which CPython version\?/);
    expectUsageError(['frobnicate'], /^gil-nvtx: unknown command 'frobnicate'; the commands are build-python, trace, /);
  });
});

describe('stdout that cannot be written', () => {
  it('is one line and a non-zero exit for every command that prints', () => {
    const printing = [['--help'], ['--version'], ...COMMANDS.map((c) => [c, '--help']), ['doctor'], ['doctor', '--json'], ['report', trace, '--quiet'], ['report', trace, '--json', '--quiet']];
    for (const args of printing) {
      const full = spawnSync('sh', ['-c', 'exec "$@" > /dev/full', 'sh', process.execPath, CLI, ...args], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, CI: '' },
      });
      const what = `gil-nvtx ${args.join(' ')} > /dev/full`;
      expect(full.status, `${what}: ${full.stderr}`).not.toBe(0);
      expect(full.status, what).not.toBeNull();
      expectOneLine(full.stderr, what);
      expect(full.stderr, what).toMatch(/no space left on device/i);
    }
  });
});

describe('profile takes the report options', () => {
  const optionsOf = (help: string) => [...help.matchAll(/^ {2}(--[a-z-]+)/gm)].map((m) => m[1]!);

  it('lists every option of report (but --nsys and --quiet, which it has of its own) and accepts them', () => {
    const report = optionsOf(gilNvtx(['report', '--help']).stdout);
    const profile = optionsOf(gilNvtx(['profile', '--help']).stdout);
    expect(report).toEqual(expect.arrayContaining(['--gil-source', '--top', '--min-hold-ms', '--json', '--html', '--perfetto', '--no-color']));
    expect(profile).toEqual(expect.arrayContaining(report));
    // Parsed and checked; what stops it is the missing nsys (exit 3), after the arguments.
    const r = gilNvtx(['profile', '--gil-source', 'patch', '--top', '3', '--min-hold-ms', '0.5', '--json', '--no-color', '--html', 'x.html', '--perfetto', 'x.json', '--', 'true'], { path: emptyPath });
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/nsys .* not installed/);
  });
});
