import { GilNvtxError } from '../errors.js';

/**
 * `gil-nvtx trace --format perfetto`: the Perfetto writer lives in lib/report (one source of truth);
 * this only hands it the merged trace.
 */
export async function writePerfettoForTrace(_database: string, _outDir: string): Promise<string> {
  throw new GilNvtxError('--format perfetto is not available yet: the Perfetto writer of lib/report is not in this build.', {
    hint: `The trace itself was written. Use --format native for now.`,
    exitCode: 2,
  });
}
