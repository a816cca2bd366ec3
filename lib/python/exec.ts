import { spawn } from 'node:child_process';
import { appendFileSync, openSync, closeSync } from 'node:fs';
import { constants } from 'node:os';
import { GilNvtxError } from '../errors.js';

const INTERRUPTS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** Sends `sig` to the whole process group led by `pid` (nothing when the group is gone already). */
function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, sig);
  } catch {
    /* the group is gone already */
  }
}

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
      killGroup(child.pid, sig);
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
    // A command that cannot start reports 'error' and then 'close': the log is closed once.
    let open = true;
    const closeLog = () => {
      if (open) closeSync(fd);
      open = false;
    };
    child.on('error', (err) => {
      stopListening();
      closeLog();
      reject(err);
    });
    // Once the command itself has gone, whatever of its group outlived it (a step that ignores
    // SIGINT, as background jobs of a non-interactive shell do) is killed, so the group ends for sure.
    child.on('exit', () => {
      if (interrupted) killGroup(child.pid, 'SIGKILL');
    });
    child.on('close', (code, signal) => {
      stopListening();
      closeLog();
      if (partial) tail.push(partial);
      if (interrupted) {
        reject(new GilNvtxError(`Interrupted by ${interrupted}: stopped \`${cmd}\` and every process it started.`, { exitCode: 128 + (constants.signals[interrupted] ?? 0) }));
      } else {
        resolve({ code, signal, tail: tail.slice(-keep) });
      }
    });
  });
}

/**
 * Runs a short command and returns its output; for probes (`nm`, `pyenv root`, the interpreter).
 *
 * The command runs in a process group of its own, so that its timeout ends everything it started: a
 * wrapper script whose child hangs would otherwise lose only the wrapper, and the child, still holding
 * the output pipes, would keep the probe waiting forever. SIGINT, SIGTERM and SIGHUP sent to us while
 * it runs go to that group too (it is no longer in the terminal's foreground group), then take their
 * usual effect on us.
 */
export function capture(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let settled = false;
    const finish = (code: number | null, err: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const sig of INTERRUPTS) process.off(sig, onSignal);
      resolve({ code, stdout, stderr: err });
    };
    const onSignal = (sig: NodeJS.Signals) => {
      killGroup(child.pid, sig);
      for (const s of INTERRUPTS) process.off(s, onSignal);
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    for (const sig of INTERRUPTS) process.on(sig, onSignal);
    const timeoutMs = opts.timeoutMs ?? 60_000;
    // Runs until the pipes close, not only until the command exits: a process it left behind with the
    // pipes open is what would hang us.
    const timer = setTimeout(() => {
      killGroup(child.pid, 'SIGKILL');
      // A process that left the group (setsid) may still hold the pipes: stop reading them.
      child.stdout.destroy();
      child.stderr.destroy();
      finish(null, `${stderr}\n(timed out after ${timeoutMs} ms: killed it and every process it started)`);
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', (err) => finish(null, String(err.message)));
    child.on('close', (code, signal) => finish(code, signal ? `${stderr}\n(killed by ${signal})` : stderr));
  });
}
