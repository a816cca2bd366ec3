// What the report benchmarks share: the generated trace they read, and one command timed under GNU
// time (/usr/bin/time -v): wall time, CPU time and peak RSS.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { generateTrace } from '../../test-support/generate-trace.mjs';

/** The nsys-schema export with `holds` holds + as many waits (8 threads), generated once and cached. */
export function benchTrace(holds, out) {
  const file = out ?? join(homedir(), '.cache', 'gil-nvtx', 'bench', `report-${holds}.sqlite`);
  mkdirSync(dirname(file), { recursive: true });
  if (!existsSync(file)) {
    process.stderr.write(`generating ${file} (${holds} holds + ${holds} waits)…\n`);
    const g = generateTrace(file, { holds, threads: 8 });
    process.stderr.write(`  ${g.nvtxRows} NVTX rows\n`);
  }
  return file;
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export const timeFile = join(tmpdir(), `gil-nvtx-bench-time-${process.pid}.txt`);

/** Runs `cmd` under GNU time; `inside` means the command itself writes the time -v output to timeFile. */
export function timed(cmd, args, { env, inside = false } = {}) {
  rmSync(timeFile, { force: true });
  const r = inside
    ? spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, env })
    : spawnSync('/usr/bin/time', ['-v', '-o', timeFile, cmd, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, env });
  const report = existsSync(timeFile) ? readFileSync(timeFile, 'utf8') : '';
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(report);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
  const user = /User time \(seconds\): ([\d.]+)/.exec(report);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(report);
  if (r.status !== 0 || !wall || !rss) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}\n${report}`);
  return {
    wallS: Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]),
    cpuS: Number(user?.[1] ?? 0) + Number(sys?.[1] ?? 0),
    rssMB: Number(rss[1]) / 1024,
    stdout: r.stdout,
  };
}

