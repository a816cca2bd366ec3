// Running the instrumentation fixtures under a tool and reading what they printed.
import { join } from 'node:path';
import { nsysProfile } from '../../lib/nsys/run.js';
import { scratchDir } from '../trace/helpers.js';

/** The last line of `output` that is a JSON object: what a fixture says it did. */
export function lastJsonLine<T>(output: string): T {
  const line = output.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`the fixture printed no result:\n${output}`);
  return JSON.parse(line) as T;
}

/** `node fixture args…` under `nsys profile --trace=nvtx` (the addon chosen as in real use); its output and SQLite export. */
export async function nodeUnderNsys(fixture: string, args: string[], name: string): Promise<{ output: string; sqlite: string }> {
  const env = { ...process.env };
  delete env.GIL_NVTX_FORCE_NATIVE;
  // nsysProfile itself runs nsys once more when it ended without a report (2022.4 on a busy machine).
  const run = await nsysProfile([process.execPath, fixture, ...args], { output: join(scratchDir(`${name}-nsys`), name), env, timeoutSec: 180 });
  return { output: run.output, sqlite: run.sqlite! };
}
