import { spawn } from 'node:child_process';
import { appendFileSync, openSync, closeSync } from 'node:fs';
import { constants } from 'node:os';
import { GilNvtxError } from '../errors.js';

const INTERRUPTS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface LoggedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines the command printed (stdout and stderr interleaved). */
  tail: string[];
}

/**
 * Runs a command with its output appended to `log`, keeping the last lines for error messages.
 *
 * The command runs in a process group of its own, and SIGINT, SIGTERM and SIGHUP sent to us go to that
 * whole group (make and every compiler it started): the run then rejects with "interrupted" once the
 * group is gone, so the caller's cleanup (the staging folder, the build lock) runs before we exit,
 * instead of Node dying at once and leaving `make -j` running in the build tree.
 */
export function runLogged(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; log: string; tailLines?: number; onLine?: (line: string) => void },
): Promise<LoggedRun> {
  appendFileSync(opts.log, `\n$ ${[cmd, ...args].join(' ')}${opts.cwd ? `   (in ${opts.cwd})` : ''}\n`);
  const fd = openSync(opts.log, 'a');
  const keep = opts.tailLines ?? 25;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let interrupted: NodeJS.Signals | null = null;
    const onSignal = (sig: NodeJS.Signals) => {
      interrupted ??= sig;
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* the group is gone already */
      }
    };
    for (const sig of INTERRUPTS) process.on(sig, onSignal);
    const stopListening = () => {
      for (const sig of INTERRUPTS) process.off(sig, onSignal);
    };
    const tail: string[] = [];
    let partial = '';
    const take = (b: Buffer) => {
      appendFileSync(fd, b);
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        tail.push(line);
        opts.onLine?.(line);
      }
      if (tail.length > keep) tail.splice(0, tail.length - keep);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (err) => {
      stopListening();
      closeSync(fd);
      reject(err);
    });
    // Once the command itself has gone, whatever of its group outlived it (a step that ignores
    // SIGINT, as background jobs of a non-interactive shell do) is killed, so the group ends for sure.
    child.on('exit', () => {
      if (interrupted && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* nothing left */
        }
      }
    });
    child.on('close', (code, signal) => {
      stopListening();
      closeSync(fd);
      if (partial) tail.push(partial);
      if (interrupted) {
        reject(new GilNvtxError(`Interrupted by ${interrupted}: stopped \`${cmd}\` and every process it started.`, { exitCode: 128 + (constants.signals[interrupted] ?? 0) }));
      } else {
        resolve({ code, signal, tail: tail.slice(-keep) });
      }
    });
  });
}

/** Runs a short command and returns its output; for probes (`nm`, `pyenv root`, the interpreter). */
export function capture(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', (err) => resolve({ code: null, stdout, stderr: String(err.message) }));
    child.on('close', (code, signal) => resolve({ code, stdout, stderr: signal ? `${stderr}\n(killed by ${signal})` : stderr }));
  });
}
