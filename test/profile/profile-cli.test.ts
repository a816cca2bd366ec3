import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { resolveRealExecutable } from '../../lib/nsys/executable.js';

const CLI = fileURLToPath(new URL('../../bin/gil-nvtx.js', import.meta.url));
const cli = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, [CLI, 'profile', ...args], { encoding: 'utf8', env: { ...env, CI: 'true' } });

describe('gil-nvtx profile (arguments and environment)', () => {
  it('prints help and exits 0', () => {
    const r = cli(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/usage: gil-nvtx profile/);
    expect(r.stdout).toMatch(/gil-nvtx trace/);
  });

  it('refuses a missing command and a bad timeout with exit 2', () => {
    const none = cli([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/no command to profile/);
    const bad = cli(['--timeout', 'soon', '--', 'true']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--timeout wants a whole number ≥ 1, not 'soon'/);
  });

  it('without nsys, says so and points at the embedded collector (exit 3)', () => {
    const emptyPath = mkdtempSync(join(tmpdir(), 'gil-nvtx-nopath-'));
    const r = cli(['--', 'true'], { PATH: emptyPath, HOME: process.env.HOME });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/nsys .* not installed/);
    expect(r.stderr).toMatch(/gil-nvtx trace -o trace -- <command…> && gil-nvtx report trace/);
  });
});

describe('resolveRealExecutable', () => {
  it('returns real binaries as they are and refuses shell-script launchers', () => {
    expect(resolveRealExecutable('node')).toBe(process.execPath);
    const dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-shim-'));
    const shim = join(dir, 'launcher');
    writeFileSync(shim, '#!/usr/bin/env bash\nexec node "$@"\n');
    chmodSync(shim, 0o755);
    expect(() => resolveRealExecutable(shim)).toThrow(/shell-script launcher/);
    expect(() => resolveRealExecutable('no-such-program-gil-nvtx')).toThrow(/cannot find/);
  });
});
