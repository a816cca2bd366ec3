import { createRequire } from 'node:module';
import { RAW_FORMAT_VERSION } from './raw-format.js';

/** GILNVTX_META values; the report tells collector traces from nsys exports by `producer`. */
export const PRODUCER = 'gil-nvtx collector';
/** Every timestamp in a collector trace: CLOCK_MONOTONIC, ns, the same clock on every thread and process. */
export const COLLECTOR_CLOCK = 'CLOCK_MONOTONIC';

export function traceFormatVersion(): string {
  // lib/trace and dist/trace both sit two levels under the package root.
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  return `gil-nvtx ${pkg.version}; raw format ${RAW_FORMAT_VERSION}`;
}
