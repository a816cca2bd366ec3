import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { basename } from 'node:path';
import type { Domain } from '../nvtx/index.js';
import { domainOption } from './domain-option.js';

export interface TracedSpawnOptions extends SpawnOptions {
  /** Domain of the range; default `node:child_process`. */
  domain?: Domain | string;
  /** Range name; default `<command> <first argument>`. */
  name?: string;
}

/**
 * `child_process.spawn` with a start/end range from spawn to exit, and the one rule that makes children
 * visible to NVTX tools: the child inherits this process's environment (nsys and the gil-nvtx collector
 * announce themselves there). `options.env` is merged over `process.env`, never replaces it.
 */
export function spawnTraced(command: string, args: readonly string[] = [], options: TracedSpawnOptions = {}): ChildProcess {
  const { domain, name, env, ...rest } = options;
  const d = domainOption(domain, 'node:child_process');
  const label = name ?? [basename(command), args[0] === undefined ? '' : basename(args[0])].join(' ').trim();
  const range = d.start(label, { category: 'child process' });
  const child = spawn(command, args, { ...rest, env: { ...process.env, ...env } });
  child.once('exit', () => range.end());
  child.once('error', () => range.end());
  return child;
}
