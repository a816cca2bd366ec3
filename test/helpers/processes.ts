import { readFileSync } from 'node:fs';

/** What became of a process: 'gone', 'zombie' (dead, its parent has not reaped it yet) or 'alive'. */
export function processState(pid: number): 'gone' | 'zombie' | 'alive' {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 'gone';
  }
  // The command name in parentheses may hold spaces; the state letter follows its closing one.
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z') ? 'zombie' : 'alive';
}
