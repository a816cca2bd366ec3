// Shared by the NVTX tests: child processes run the compiled package (dist/), because workers and nsys
// need plain JavaScript. `ensureBuilt()` compiles dist/ when it is older than lib/ (a plain
// `npx vitest run test/nvtx` has no pretest step) and checks that the addon binary exists.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const FIXTURES = join(ROOT, 'test', 'nvtx', 'fixtures');
export const DIST_INDEX = join(ROOT, 'dist', 'index.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function ensureBuilt(): void {
  const stale = () => !existsSync(DIST_INDEX) || statSync(DIST_INDEX).mtimeMs < newestMtime(join(ROOT, 'lib', 'nvtx'));
  if (stale()) {
    // Test files run in parallel processes: one compiles, the others wait for it.
    const lock = join(ROOT, 'dist', '.nvtx-build.lock');
    mkdirSync(join(ROOT, 'dist'), { recursive: true });
    let fd: number | null = null;
    for (let i = 0; i < 600 && fd === null; i++) {
      try {
        fd = openSync(lock, 'wx');
      } catch {
        sleep(200);
      }
    }
    try {
      if (stale()) spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
    } finally {
      if (fd !== null) {
        closeSync(fd);
        rmSync(lock, { force: true });
      }
    }
    if (stale()) throw new Error('dist/ is stale and `tsc -p tsconfig.build.json` did not refresh it');
  }
  if (!existsSync(join(ROOT, 'build', 'Release', 'gil_nvtx.node')) && !existsSync(join(ROOT, 'prebuilds'))) {
    throw new Error('the addon is not built: run `npm run build:native`');
  }
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <script> ...args` with `env` added to a copy of this process's environment (minus tool vars). */
export function runNode(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, timeoutMs = 110_000): Promise<ChildResult> {
  const base = { ...process.env };
  delete base.NVTX_INJECTION64_PATH;
  delete base.GIL_NVTX_FORCE_NATIVE;
  delete base.GIL_NVTX_ADDON_PATH;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...base, ...env }, cwd: ROOT, timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Last line of stdout parsed as JSON (fixtures print their findings that way). */
export function lastJson<T>(result: ChildResult): T {
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? 'null') as T;
}
