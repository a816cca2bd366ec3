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

interface Holder {
  p: ChildProcessWithoutNullStreams;
  exited: Promise<number | null>;
  /** Every line it printed so far. */
  lines: string[];
}

function holder(lockPath: string, name: string): Holder {
  const p = spawn(process.execPath, [script, lockPath, name]);
  // 'close', not 'exit': by then every line it printed has been read.
  const h: Holder = { p, exited: new Promise((res) => p.on('close', res)), lines: [] };
  let partial = '';
  p.stdout.on('data', (b: Buffer) => {
    const parts = (partial + b.toString()).split('\n');
    partial = parts.pop()!;
    h.lines.push(...parts);
    log.push(...parts);
  });
  return h;
}

/** Resolves with the first line of `h` that matches, printed before this call or after. */
function line(h: Holder, re: RegExp): Promise<string> {
  return new Promise((res, rej) => {
    const look = () => {
      const m = h.lines.find((l) => re.test(l));
      if (m === undefined) return false;
      h.p.stdout.off('data', later);
      res(m);
      return true;
    };
    // Listeners run in the order they were added: the holder's own has split the new data already.
    const later = () => look();
    if (look()) return;
    h.p.stdout.on('data', later);
    h.exited.then(() => look() || rej(new Error(`exited before ${re}`)));
  });
}

describe('build lock', () => {
  it('an owner killed while two wait: one takes it, the other waits for that one', async () => {
    const lockPath = join(mkdtempSync(join(tmpdir(), 'gil-nvtx-lock-')), 'build.lock');
    const owner = holder(lockPath, 'owner');
    await line(owner, /^enter owner$/);
    const a = holder(lockPath, 'a');
    const b = holder(lockPath, 'b');
    expect(await line(a, /^waiting a/)).toBe(`waiting a ${owner.p.pid}`);
    expect(await line(b, /^waiting b/)).toBe(`waiting b ${owner.p.pid}`);

    owner.p.kill('SIGKILL'); // no cleanup at all: the lock file still names it
    await owner.exited;
    const first = await Promise.race([line(a, /^enter/), line(b, /^enter/)]);
    const [winner, loser] = first === 'enter a' ? [a, b] : [b, a];
    expect(await tryLock(lockPath)).toBeNull();
    const second = line(loser, /^enter/);
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
