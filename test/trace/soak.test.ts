// The flight recorder's soak (bench/recorder/soak.mjs), short: 60 s of each service under
// `gil-nvtx record` with injected GIL stalls: a hand-off-heavy patched CPython, and a Node HTTP service
// with Python worker processes (the mixed example). Disk stays within --max-disk, the service's memory
// stays flat, and every injected stall is in exactly one dump. (The bench runs 10 minutes by default
// and also measures the overhead against no tool.)
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { patchedPythonOrSkip } from '../helpers/pythons.js';
import { ROOT, ensureCollector, scratchDir } from './helpers.js';

const patched = await patchedPythonOrSkip('3.11.2');

interface Soak {
  service: string;
  stalls: { start: number; dumps: string[] }[];
  samples: { diskBytes: number; rss: { recorder: number; watchdog: number; service: number } }[];
  checks: Record<string, { pass: boolean; detail: string }>;
}

describe.skipIf('skip' in patched)('flight recorder soak (short)', () => {
  it.each(['handoff', 'mixed'])('%s service, 60 s: flat disk and memory, every injected stall in exactly one dump', (service) => {
    const json = join(scratchDir(`soak-${service}`), 'soak.json');
    const r = spawnSync(process.execPath, [join(ROOT, 'bench', 'recorder', 'soak.mjs'), '--service', service, '--seconds', '60', '--no-overhead', '--max-disk', '128M', '--python', 'python' in patched ? patched.python : '', '--json', json], {
      encoding: 'utf8',
      env: { ...process.env, GIL_NVTX_COLLECTOR: ensureCollector() },
      timeout: 150_000,
    });
    expect(existsSync(json), r.stderr.slice(-2000)).toBe(true);
    const soak = JSON.parse(readFileSync(json, 'utf8')) as Soak;
    // The bench's own verdicts first: their details say what went wrong.
    expect(Object.fromEntries(Object.entries(soak.checks).filter(([, c]) => !c.pass))).toEqual({});
    expect(r.status, r.stdout.slice(-2000) + r.stderr.slice(-2000)).toBe(0);
    expect(soak.service).toBe(service);
    expect(soak.stalls.length).toBeGreaterThanOrEqual(8); // one every 3.5-6 s
    for (const s of soak.stalls) expect(s.dumps, `stall at ${s.start}`).toHaveLength(1);
    expect(new Set(soak.stalls.map((s) => s.dumps[0])).size).toBe(soak.stalls.length);
    expect(Math.max(...soak.samples.map((s) => s.diskBytes))).toBeLessThanOrEqual(128 * 2 ** 20);
  }, 180_000);
});
