// `gil-nvtx record` (the flight recorder) end to end, through the CLI as an operator runs it, on a
// patched CPython service steered through control files (test-support/programs/recorder_service.py). Nothing waits
// for time to pass: each step waits for what it caused (a line, a dump folder) with a deadline.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDurationMs, parseSizeBytes } from '../../lib/units.js';
import { patchedPythonOrSkip } from '../helpers/pythons.js';
import { smallFs } from '../helpers/small-fs.js';
import { ROOT, ensureCollector, queryAll, scratchDir } from './helpers.js';

const patched = await patchedPythonOrSkip('3.11.2');
const python = 'python' in patched ? patched.python : '';
const CLI = join(ROOT, 'bin', 'gil-nvtx.js');
const SERVICE = join(ROOT, 'test-support', 'programs', 'recorder_service.py');

/** Polls `check` until it returns a value (not undefined/false) or the deadline passes. */
let context = () => '';
async function until<T>(what: string, check: () => T | undefined | false, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the recorder said:\n${context()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Recorder {
  child: ChildProcess;
  out: string[];
  err: () => string;
  dir: string;
  ctrl: string;
  /** Its exit code once its output is read (the service shares its stdout). */
  exited: Promise<number | null>;
  /** When the recorder process itself has ended. */
  ended: Promise<void>;
  /** Writes the next control file. */
  send: (cmd: string) => void;
  dumps: () => string[];
}

function record(args: string[], dir: string): Recorder {
  const ctrl = scratchDir('record-ctrl');
  const child = spawn(process.execPath, [CLI, 'record', '-o', dir, ...args, '--', python, '-u', SERVICE, ctrl], {
    env: { ...process.env, CI: '', GIL_NVTX_COLLECTOR: ensureCollector() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  let err = '';
  let rest = '';
  child.stdout!.on('data', (b: Buffer) => {
    const lines = (rest + b.toString()).split('\n');
    rest = lines.pop() ?? '';
    out.push(...lines);
  });
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  let n = 0;
  context = () => err;
  return {
    child,
    out,
    err: () => err,
    dir,
    ctrl,
    exited: new Promise((res) => child.once('close', (code) => res(code))),
    ended: new Promise((res) => child.once('exit', () => res())),
    send: (cmd) => writeFileSync(join(ctrl, `${++n}-${cmd}`), ''),
    dumps: () => (existsSync(dir) ? readdirSync(dir).filter((d) => /^dump-\d+-/.test(d)).sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1])) : []),
  };
}

const dumpJson = (dir: string) => JSON.parse(readFileSync(join(dir, 'dump.json'), 'utf8')) as { triggers: { kind: string; pid?: number }[] };
/** Whether a dump was triggered by `pid`'s hold (false for one removed meanwhile: --max-dumps). */
const triggeredBy = (dir: string, pid: number) => existsSync(join(dir, 'dump.json')) && dumpJson(dir).triggers.some((t) => t.pid === pid);
/** Holds of 150 ms or more in a dump's trace, with their pid. */
const longHolds = (dir: string) =>
  queryAll<{ pid: number; ms: number }>(
    join(dir, 'trace.sqlite'),
    "SELECT (e.globalTid >> 24) & 16777215 AS pid, (e.end - e.start) / 1e6 AS ms FROM NVTX_EVENTS e JOIN StringIds s ON s.id = e.textId WHERE s.value = 'Holding GIL' AND e.end - e.start >= 150e6",
  );

describe('durations and sizes on the command line', () => {
  it('parses what the help shows and refuses the rest', () => {
    expect([parseDurationMs('30s'), parseDurationMs('100ms'), parseDurationMs('2m'), parseDurationMs('1.5s'), parseDurationMs('1h')]).toEqual([30_000, 100, 120_000, 1500, 3_600_000]);
    for (const bad of ['30', 's', '-1s', '1d', '', '1e3s']) expect(parseDurationMs(bad), bad).toBeNull();
    expect([parseSizeBytes('512M'), parseSizeBytes('64K'), parseSizeBytes('2GiB'), parseSizeBytes('4096'), parseSizeBytes('1.5k'), parseSizeBytes('10MB')]).toEqual([512 * 2 ** 20, 65536, 2 * 2 ** 30, 4096, 1536, 10 * 2 ** 20]);
    for (const bad of ['M', '12Q', '-1M', '1 2M', '']) expect(parseSizeBytes(bad), bad).toBeNull();
  });

  it('bad options: one line on stderr, exit 2, the command never runs', () => {
    for (const [args, message] of [
      [['--window', '5x'], /--window wants a duration such as 500ms, 30s, 5m or 1h, not '5x'/],
      [['--max-disk', '12Q'], /--max-disk wants a size such as 512M, 2G or 64K, not '12Q'/],
      [['--max-disk', '1M'], /--max-disk 1M is too small/],
      [['--window', '5s', '--before', '10s'], /--before plus --after \(12000 ms\) is longer than --window \(5000 ms\)/],
      [['--max-dumps', '0'], /--max-dumps wants a whole number/],
    ] as const) {
      const r = spawnSync(process.execPath, [CLI, 'record', '-o', scratchDir('record-bad'), ...args, '--', 'touch', '/nonexistent/ran'], { encoding: 'utf8', env: { ...process.env, GIL_NVTX_COLLECTOR: ensureCollector() } });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(message);
    }
    const dump = spawnSync(process.execPath, [CLI, 'dump', scratchDir('record-none')], { encoding: 'utf8' });
    expect(dump.status).toBe(1);
    expect(dump.stderr).toMatch(/No gil-nvtx record is running into /);
  });
});

describe.skipIf('skip' in patched)('gil-nvtx record', () => {
  beforeAll(() => {
    ensureCollector();
  }, 300_000);

  it('a burst of SIGUSR2 gives one dump; a long hold, `gil-nvtx dump` and fork / exec children each one more; --max-dumps keeps the newest', async () => {
    const r = record(['--window', '3s', '--before', '1s', '--after', '300ms', '--max-dumps', '3', '--max-disk', '64M'], scratchDir('record'));
    try {
      await until('the service', () => r.out.some((l) => l.startsWith('ready')));
      const recorderPid = r.child.pid!;
      for (let i = 0; i < 20; i++) process.kill(recorderPid, 'SIGUSR2');
      const [first] = await until('the signal dump', () => (r.dumps().length === 1 ? r.dumps() : false));
      expect(dumpJson(join(r.dir, first!)).triggers.every((t) => t.kind === 'signal')).toBe(true);

      r.send('stall');
      const stall = await until('the stall', () => r.out.find((l) => l.startsWith('stall')));
      const second = await until('the stall dump', () => r.dumps()[1]);
      const [, pid] = stall.split(' ');
      expect(dumpJson(join(r.dir, second)).triggers).toEqual([expect.objectContaining({ kind: 'hold', pid: Number(pid) })]);
      expect(longHolds(join(r.dir, second))).toEqual([expect.objectContaining({ pid: Number(pid) })]);
      // A dump is a trace folder the report reads.
      const report = spawnSync(process.execPath, [CLI, 'report', join(r.dir, second)], { encoding: 'utf8' });
      expect(report.status, report.stderr).toBe(0);
      expect(report.stdout).toMatch(/#1 2\d\d\.\d ms by/);

      const asked = spawnSync(process.execPath, [CLI, 'dump', r.dir], { encoding: 'utf8' });
      expect(asked.status, asked.stderr).toBe(0);
      await until('the requested dump', () => r.dumps().length === 3);

      // Children: a fork child and an exec'd interpreter inherit the ring and are dumped.
      r.send('fork-stall');
      const forkStall = await until('the fork stall', () => r.out.filter((l) => l.startsWith('stall'))[1]);
      await until('the fork dump', () => r.dumps().some((d) => triggeredBy(join(r.dir, d), Number(forkStall.split(' ')[1]))));
      r.send('exec-stall');
      const execStall = await until('the exec stall', () => r.out.filter((l) => l.startsWith('stall'))[2]);
      const execDump = await until('the exec dump', () => r.dumps().find((d) => triggeredBy(join(r.dir, d), Number(execStall.split(' ')[1]))));
      expect(longHolds(join(r.dir, execDump)).map((h) => h.pid)).toContain(Number(execStall.split(' ')[1]));
      // 5 dumps written, the 3 newest kept, numbered in order.
      expect(r.dumps().map((d) => Number(d.split('-')[1]))).toEqual([3, 4, 5]);
      r.send('quit');
      expect(await r.exited).toBe(0);
      expect(r.err()).toMatch(/gil-nvtx record: 5 dump\(s\) written, \d+ trigger\(s\) folded into them/);
      expect(existsSync(join(r.dir, 'ring'))).toBe(false);
    } finally {
      r.child.kill('SIGKILL');
    }
  }, 120_000);

  it('a trigger soon after a dump: its window starts where that dump ended, so no moment is in two dumps', async () => {
    const r = record(['--window', '30s', '--before', '10s', '--after', '200ms', '--max-disk', '64M'], scratchDir('record-abut'));
    try {
      await until('the service', () => r.out.some((l) => l.startsWith('ready')));
      process.kill(r.child.pid!, 'SIGUSR2');
      const [first] = await until('the first dump', () => (r.dumps().length === 1 ? r.dumps() : false));
      // Written after its window ended, well within --before of it: the next window would overlap it.
      process.kill(r.child.pid!, 'SIGUSR2');
      const second = await until('the second dump', () => r.dumps()[1]);
      const windows = [first!, second].map((d) => JSON.parse(readFileSync(join(r.dir, d, 'dump.json'), 'utf8')) as { window: { fromNs: number; toNs: number }; triggers: { atNs: number }[] });
      expect(windows[1]!.window.fromNs).toBe(windows[0]!.window.toNs + 1);
      expect(windows[1]!.triggers[0]!.atNs - windows[1]!.window.fromNs).toBeLessThan(10e9);
      expect(windows[1]!.window.toNs).toBeGreaterThan(windows[1]!.triggers[0]!.atNs);
    } finally {
      r.send('quit');
      await r.exited;
    }
  }, 60_000);
});

describe.skipIf('skip' in patched)('gil-nvtx record wait trigger', () => {
  it('--trigger-wait-ms: the threads kept waiting by a stall trigger one dump between them, which holds the stall', async () => {
    const r = record(['--window', '2s', '--before', '1s', '--after', '300ms', '--trigger-hold-ms', '0', '--trigger-wait-ms', '50', '--max-disk', '64M'], scratchDir('record-wait'));
    try {
      await until('the service', () => r.out.some((l) => l.startsWith('ready')));
      r.send('stall');
      const stall = await until('the stall', () => r.out.find((l) => l.startsWith('stall')));
      const [dump] = await until('the wait dump', () => (r.dumps().length ? r.dumps() : false));
      const triggers = dumpJson(join(r.dir, dump!)).triggers;
      // Both workers waited 200 ms: two wait triggers, folded into one dump; no hold trigger (off).
      expect(triggers.map((t) => t.kind)).toEqual(['wait', 'wait']);
      expect(longHolds(join(r.dir, dump!))).toEqual([expect.objectContaining({ pid: Number(stall.split(' ')[1]) })]);
      r.send('quit');
      expect(await r.exited).toBe(0);
      expect(r.dumps()).toHaveLength(1);
    } finally {
      r.child.kill('SIGKILL');
    }
  }, 60_000);
});

describe.skipIf('skip' in patched)('gil-nvtx record never hurts the service', () => {
  it('a full disk: dumps fail with one line each, the service runs to its end, the recorder goes on', async () => {
    // Room for the rings (one process: 1 MiB at --max-disk 16M), not for the dumps.
    const fs = smallFs(1536 * 1024);
    try {
      const r = record(['--window', '2s', '--before', '1s', '--after', '200ms', '--max-disk', '16M'], join(fs.dir, 'rec'));
      await until('the service', () => r.out.some((l) => l.startsWith('ready')));
      r.send('stall');
      await until('the failed dump', () => /dump 1 failed: .*; recording goes on/.test(r.err()));
      r.send('ping');
      await until('the service answering', () => r.out.includes('pong 2'));
      r.send('quit');
      expect(await r.exited).toBe(0);
      expect(r.out.some((l) => l.startsWith('done'))).toBe(true);
      expect(r.err()).not.toMatch(/\n\s+at /); // no stack trace
    } finally {
      fs.dispose();
    }
  }, 60_000);

  it('the output folder deleted while recording: the service runs on, the recorder reports the dump it could not write', async () => {
    const dir = scratchDir('record-deleted');
    const r = record(['--window', '2s', '--before', '1s', '--after', '200ms', '--max-disk', '64M'], dir);
    await until('the service', () => r.out.some((l) => l.startsWith('ready')));
    rmSync(dir, { recursive: true, force: true });
    process.kill(r.child.pid!, 'SIGUSR2');
    await until('the failed dump', () => /dump 1 failed: .*ring.* is gone.*; recording goes on/.test(r.err()));
    r.send('ping');
    await until('the service answering', () => r.out.includes('pong 1'));
    r.send('quit');
    expect(await r.exited).toBe(0);
    expect(r.out.some((l) => l.startsWith('done'))).toBe(true);
  }, 60_000);

  it('the recorder SIGKILLed: the service runs on; the service SIGKILLed: the dumps already written stay readable', async () => {
    const r = record(['--window', '2s', '--before', '1s', '--after', '200ms', '--max-disk', '64M'], scratchDir('record-killed'));
    await until('the service', () => r.out.some((l) => l.startsWith('ready')));
    r.send('stall');
    const dump = await until('the stall dump', () => r.dumps()[0]);
    const servicePid = Number(r.out.find((l) => l.startsWith('ready'))!.split(' ')[1]);

    process.kill(r.child.pid!, 'SIGKILL');
    await r.ended;
    r.send('ping');
    await until('the service answering after the recorder died', () => r.out.includes('pong 2'));
    process.kill(servicePid, 'SIGKILL');
    await until('the service gone', () => {
      try {
        process.kill(servicePid, 0);
        return false;
      } catch {
        return true;
      }
    });
    expect(longHolds(join(r.dir, dump))).toHaveLength(1);
    const report = spawnSync(process.execPath, [CLI, 'report', join(r.dir, dump)], { encoding: 'utf8' });
    expect(report.status, report.stderr).toBe(0);
  }, 60_000);
});
