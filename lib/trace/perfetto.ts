import { join } from 'node:path';
import { analyzeTrace, loadTrace, writePerfetto } from '../report/index.js';

export const PERFETTO_FILE = 'trace.perfetto.json';

/**
 * `gil-nvtx trace --format perfetto`: the Perfetto writer lives in lib/report (one source of truth);
 * this only hands it the merged trace. Returns the file written.
 */
export async function writePerfettoForTrace(database: string, outDir: string): Promise<string> {
  const file = join(outDir, PERFETTO_FILE);
  // A program without a patched Python (Node alone, a stock interpreter) has NVTX ranges but no GIL
  // ones; its timeline is still worth a file, only without the GIL lanes.
  const trace = await loadTrace(database, { requireGil: false });
  try {
    // The longest holds carry their verdict and location, as in `gil-nvtx report --perfetto`.
    writePerfetto(trace, file, { blame: analyzeTrace(trace).blame });
  } finally {
    trace.close();
  }
  return file;
}
