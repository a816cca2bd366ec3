import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync, realpathSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { GilNvtxError } from '../errors.js';
import { findExecutable } from '../executables.js';

/** The `#!` line of a script, or null for a binary. */
function shebang(path: string): string | null {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(256);
    const n = readSync(fd, head, 0, head.length, 0);
    const text = head.subarray(0, n).toString('latin1');
    return text.startsWith('#!') ? text.split('\n', 1)[0]! : null;
  } finally {
    closeSync(fd);
  }
}

/**
 * nsys must profile the real executable: through a shell-script launcher such as a pyenv shim it hangs
 * (seen with nsys 2022.4 on these machines). Resolves pyenv shims to the interpreter they stand for;
 * refuses other scripts whose interpreter is a shell, naming what to pass instead.
 */
export function resolveRealExecutable(command: string, env: NodeJS.ProcessEnv = process.env): string {
  const found = findExecutable(command, env);
  if (!found) {
    throw new GilNvtxError(`cannot find '${command}'${command.includes('/') ? ' (no executable file there)' : ' on PATH'}.`, { exitCode: 2 });
  }
  const real = realpathSync(found);
  const line = shebang(real);
  if (line === null) return real;
  if (/\/shims\//.test(found) || /pyenv/.test(real)) {
    try {
      const target = execFileSync('pyenv', ['which', basename(command)], { env, encoding: 'utf8' }).trim();
      if (target && isAbsolute(target) && shebang(realpathSync(target)) === null) return realpathSync(target);
    } catch {
      /* fall through to the error below */
    }
  }
  if (/\b(sh|bash|dash|zsh)\b/.test(line)) {
    throw new GilNvtxError(`'${command}' is a shell-script launcher (${real}); nsys hangs profiling those.`, {
      hint: 'Pass the real executable instead (for pyenv: `$(pyenv which python3)`; for a venv: its bin/python).',
      exitCode: 2,
    });
  }
  // A script run by a real interpreter (a Node or Python script with a shebang) is profiled as it is.
  return real;
}
