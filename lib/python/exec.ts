import { spawn } from 'node:child_process';
import { appendFileSync, openSync, closeSync } from 'node:fs';

export interface LoggedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines the command printed (stdout and stderr interleaved). */
  tail: string[];
}

/** Runs a command with its output appended to `log`, keeping the last lines for error messages. */
export function runLogged(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; log: string; tailLines?: number; onLine?: (line: string) => void },
): Promise<LoggedRun> {
  appendFileSync(opts.log, `\n$ ${[cmd, ...args].join(' ')}${opts.cwd ? `   (in ${opts.cwd})` : ''}\n`);
  const fd = openSync(opts.log, 'a');
  const keep = opts.tailLines ?? 25;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
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
      closeSync(fd);
      reject(err);
    });
    child.on('close', (code, signal) => {
      closeSync(fd);
      if (partial) tail.push(partial);
      resolve({ code, signal, tail: tail.slice(-keep) });
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
