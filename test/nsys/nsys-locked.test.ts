// scripts/nsys-locked.sh cleans up after nsys: the `nsys --start-agent` its run started is killed,
// and an agent someone else started at the same time (another user's nsys, a run outside the lock)
// is left alone. A stand-in nsys starts a daemonized agent the way nsys 2022.4 does (its own session,
// re-parented to init), then waits until the test has started an unrelated look-alike. The test fails
// by its timeout if the run's own agent is left alive.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { NSYS_LOCKED } from '../../lib/nsys/run.js';
import { processState } from '../helpers/processes.js';

const FAKE_NSYS = `#!/usr/bin/env bash
here=$(dirname "$0")
case "$1" in
  --start-agent)
    # Blocks forever without a child process: a FIFO opened read-write never reaches end of file.
    read -r <> "$here/hold"
    exit 0 ;;
  profile)
    # The agent keeps the run's stderr open: the test sees it close when the agent is gone.
    setsid "$0" --start-agent --session-name=profile-fake-$$ < /dev/null > /dev/null &
    echo "agent $!"
    # Opening the FIFO for reading waits until the test opens it for writing.
    read -r < "$here/go"
    exit 0 ;;
esac
exit 1
`;

const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

describe('scripts/nsys-locked.sh', () => {
  it('kills only the agent its own nsys started, not another one that appeared meanwhile', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-nsys-locked-'));
    const fake = join(dir, 'nsys');
    writeFileSync(fake, FAKE_NSYS);
    chmodSync(fake, 0o755);
    execFileSync('mkfifo', [join(dir, 'hold'), join(dir, 'go')]);

    const run = spawn(NSYS_LOCKED, ['30', 'profile', 'true'], {
      env: { ...process.env, GIL_NVTX_NSYS: fake, GIL_NVTX_NSYS_LOCK: join(dir, 'lock') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    run.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((r) => run.on('exit', r));
    // Ends once every holder of the run's stderr has gone, the agent it started included.
    const stderrClosed = new Promise((r) => run.stderr!.on('close', r));
    const lines = createInterface({ input: run.stdout! })[Symbol.asyncIterator]();
    const first = (await lines.next()).value as string;
    const ours = Number(/^agent (\d+)$/.exec(first)?.[1]);
    expect(ours).toBeGreaterThan(0);
    started.push(ours);

    // The look-alike: same program, same arguments, started outside the run while nsys still runs.
    const other: ChildProcess = spawn(fake, ['--start-agent', '--session-name=profile-other-1'], { stdio: 'ignore', detached: true });
    await new Promise((r) => other.on('spawn', r));
    started.push(other.pid!);

    const go = openSync(join(dir, 'go'), 'w');
    writeFileSync(go, '\n');
    closeSync(go);
    expect(await exited).toBe(0);
    await stderrClosed;

    expect(stderr).toContain(`killed leftover nsys agent ${ours}`);
    expect(stderr).not.toContain(`agent ${other.pid}`);
    expect(processState(ours)).not.toBe('alive');
    expect(processState(other.pid!)).toBe('alive');
  });
});
