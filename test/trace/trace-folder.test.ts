import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIST_INDEX, ensureBuilt } from '../nvtx/helpers.js';
import { ensureCollector, queryAll, scratchDir } from './helpers.js';

// One run owns its trace folder; a trace that died can be merged afterwards; signals reach the command.
const CLI = join(import.meta.dirname, '../../bin/gil-nvtx.js');
// Marks, says "ready <pid>", then runs until its stdin ends (the test's pipe, shared with the CLI).
const SCRIPT = `
const nvtx = await import(${JSON.stringify(DIST_INDEX)});
nvtx.domain('owner').mark('recorded');
process.stdout.write('ready ' + process.pid + '\\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

let script: string;
beforeAll(() => {
  ensureBuilt();
  process.env.GIL_NVTX_COLLECTOR = ensureCollector();
  script = join(scratchDir('trace-folder-script'), 'script.mjs');
  writeFileSync(script, SCRIPT);
}, 300_000);

const env = () => ({ ...process.env, CI: '' });
const gilNvtx = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: env(), timeout: 120_000 });

interface Running {
  cli: ChildProcessWithoutNullStreams;
  /** The traced script's pid, once it said ready. */
  ready: Promise<number>;
  /** When every process holding the stdout pipe (the CLI and the script) has gone. */
  closed: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startTrace(dir: string): Running {
  const cli = spawn(process.execPath, [CLI, 'trace', '-o', dir, '--', process.execPath, script], { env: env() });
  let out = '';
  let stderr = '';
  cli.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const ready = new Promise<number>((res, rej) => {
    cli.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /ready (\d+)\n/.exec(out);
      if (m) res(Number(m[1]));
    });
    cli.on('exit', () => rej(new Error(`trace ended before the script was ready: ${stderr}`)));
  });
  const closed = new Promise<void>((res) => cli.stdout.on('close', () => res()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) => cli.on('exit', (code, signal) => res({ code, signal, stderr })));
  return { cli, ready, closed, exited };
}

const marks = (dir: string) => queryAll<{ name: string }>(join(dir, 'trace.sqlite'), "SELECT COALESCE(e.text, s.value) AS name FROM NVTX_EVENTS e LEFT JOIN StringIds s ON s.id = e.textId WHERE eventType = 34").map((r) => r.name);

describe('trace folders', () => {
  it('a second run into a folder in use fails with one line and leaves the first run alone', async () => {
    const dir = scratchDir('owned');
    const first = startTrace(dir);
    await first.ready;
    // The same folder through a symlink is the same folder.
    const link = `${dir}-link`;
    symlinkSync(dir, link);
    for (const args of [['trace', '-o', dir, '--', 'true'], ['merge', dir], ['trace', '-o', link, '--', 'true']]) {
      const second = gilNvtx(...args);
      expect(second.status).toBe(1);
      expect(second.stderr).toMatch(new RegExp(`^gil-nvtx ${args[0]}: The trace folder .* is in use by another gil-nvtx run \\(pid ${first.cli.pid}\\)\\.\\n`));
      expect(second.stderr).not.toMatch(/\n\s+at /);
    }
    first.cli.stdin.end();
    const done = await first.exited;
    expect(done.stderr).toMatch(/1 process\(es\)/);
    expect(done.code).toBe(0);
    expect(marks(dir)).toEqual(['recorded']);
    expect(existsSync(join(dir, '.gil-nvtx.lock'))).toBe(false);
  });

  it('SIGHUP and SIGTERM to gil-nvtx trace reach the command, and the trace is merged', async () => {
    for (const [sig, code] of [['SIGHUP', 129], ['SIGTERM', 143]] as const) {
      const dir = scratchDir(`signal-${sig}`);
      const run = startTrace(dir);
      await run.ready;
      run.cli.kill(sig);
      const done = await run.exited;
      expect(done.code).toBe(code);
      expect(done.stderr).toContain(`the command was ended by ${sig}`);
      expect(marks(dir)).toEqual(['recorded']);
    }
  });

  it('gil-nvtx merge DIR merges what a killed gil-nvtx trace left, its folder lock gone with it', async () => {
    const dir = scratchDir('killed');
    const run = startTrace(dir);
    await run.ready;
    run.cli.kill('SIGKILL');
    await run.exited;
    expect(existsSync(join(dir, 'trace.sqlite'))).toBe(false);
    const early = gilNvtx('report', dir);
    expect(early.status).toBe(1);
    expect(early.stderr).toMatch(/holds raw collector files \(raw\/\) but no trace\.sqlite[\s\S]*Run `gil-nvtx merge /);
    // The script runs on (SIGKILL cannot be forwarded) until its stdin ends.
    run.cli.stdin.end();
    await run.closed;
    const merged = gilNvtx('merge', dir);
    expect(merged.stderr).toMatch(/^gil-nvtx merge: 1 process\(es\), \d+ thread\(s\), \d+ NVTX event\(s\) -> .*trace\.sqlite\n/);
    expect(merged.status).toBe(0);
    expect(marks(dir)).toEqual(['recorded']);
    expect(existsSync(join(dir, 'raw'))).toBe(false);
    expect(existsSync(join(dir, '.gil-nvtx.lock'))).toBe(false);
  });

  it('merge of a folder without raw files: one line, exit 1, no folder made', () => {
    const missing = join(scratchDir('merge-missing'), 'nope');
    const r = gilNvtx('merge', missing);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/has no raw\/ folder: nothing to merge/);
    expect(existsSync(missing)).toBe(false);
    expect(gilNvtx('merge').status).toBe(2);
  });

  it('merge -o into a folder that does not exist: one line, exit 1, the raw files kept', () => {
    const dir = scratchDir('merge-bad-output');
    const raw = join(dir, 'raw');
    mkdirSync(raw);
    writeFileSync(join(raw, '1-1.gnvtx'), '');
    const r = gilNvtx('merge', dir, '-o', join(dir, 'missing', 'trace.sqlite'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^gil-nvtx merge: Cannot create .*missing\/trace\.sqlite: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(raw, '1-1.gnvtx'))).toBe(true);
  });
});
