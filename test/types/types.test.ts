// Type tests: compile consumer code against the shipped declarations (dist/*.d.ts via package "exports"),
// for an ESM and a CommonJS consumer. @ts-expect-error lines make the test fail if the types get looser.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../nvtx/helpers.js';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

beforeAll(() => ensureBuilt());

it('ESM and CJS consumers type-check against the published declarations', () => {
  const run = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'test', 'types', 'tsconfig.json')], { encoding: 'utf8', cwd: ROOT });
  expect(run.stdout + run.stderr).toBe('');
  expect(run.status).toBe(0);
}, 60_000);
