import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tryLock } from '../../lib/lock.js';
import { DIST_INDEX, ensureBuilt } from '../nvtx/helpers.js';

// The build lock (lib/python/lock.ts over lib/lock.ts) when its owner is killed while two others wait:
// exactly one of them gets it, the other only after that one is done.
const LOCK_JS = join(dirname(DIST_INDEX), 'python', 'lock.js');
// Holds the lock until its stdin ends; says "waiting", "enter" and "leave".
const SCRIPT = `
const { withLock } = await import(${JSON.stringify(LOCK_JS)});
const [path, name] = process.argv.slice(2);
await withLock(path, async () => {
  process.stdout.write('enter ' + name + '\\n');
  await new Promise((res) => { process.stdin.on('end', res); process.stdin.resume(); });
  process.stdout.write('leave ' + name + '\\n');
}, (owner) => process.stdout.write('waiting ' + name + ' ' + owner + '\\n'));
`;

let script: string;
beforeAll(() => {
  ensureBuilt();
  script = join(mkdtempSync(join(tmpdir(), 'gil-nvtx-lock-script-')), 'hold.mjs');
  writeFileSync(script, SCRIPT);
});

const log: string[] = [];
/** Resolves on the first line of `proc` that matches. */
function line(proc: ChildProcessWithoutNullStreams, re: RegExp): Promise<string> {
  return new Promise((res, rej) => {
    let buf = '';
    const on = (b: Buffer) => {
      buf += b.toString();
      const m = buf.split('\n').find((l) => re.test(l));
      if (m) {
        proc.stdout.off('data', on);
        res(m);
      }
    };
    proc.stdout.on('data', on);
    proc.on('exit', () => rej(new Error(`exited before ${re}`)));
  });
}

function holder(lockPath: string, name: string) {
  const p = spawn(process.execPath, [script, lockPath, name]);
  p.stdout.on('data', (b: Buffer) => log.push(...b.toString().trim().split('\n')));
  return { p, exited: new Promise<number | null>((res) => p.on('exit', res)) };
}

describe('build lock', () => {
  it('an owner killed while two wait: one takes it, the other waits for that one', async () => {
    const lockPath = join(mkdtempSync(join(tmpdir(), 'gil-nvtx-lock-')), 'build.lock');
    const owner = holder(lockPath, 'owner');
    await line(owner.p, /^enter owner$/);
    const a = holder(lockPath, 'a');
    const b = holder(lockPath, 'b');
    expect(await line(a.p, /^waiting a/)).toBe(`waiting a ${owner.p.pid}`);
    expect(await line(b.p, /^waiting b/)).toBe(`waiting b ${owner.p.pid}`);

    owner.p.kill('SIGKILL'); // no cleanup at all: the lock file still names it
    await owner.exited;
    const first = await Promise.race([line(a.p, /^enter/), line(b.p, /^enter/)]);
    const [winner, loser] = first === 'enter a' ? [a, b] : [b, a];
    expect(await tryLock(lockPath)).toBeNull();
    const second = line(loser.p, /^enter/);
    winner.p.stdin.end();
    expect(await winner.exited).toBe(0);
    await second;
    expect(await tryLock(lockPath)).toBeNull();
    loser.p.stdin.end();
    expect(await loser.exited).toBe(0);
    const mine = await tryLock(lockPath);
    expect(mine).not.toBeNull();
    mine!.release();

    const order = log.filter((l) => /^(enter|leave) [ab]$/.test(l));
    const w = first.slice(-1);
    const l = w === 'a' ? 'b' : 'a';
    expect(order).toEqual([`enter ${w}`, `leave ${w}`, `enter ${l}`, `leave ${l}`]);
  });
});
