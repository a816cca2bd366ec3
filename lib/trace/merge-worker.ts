// mergeTrace off the main thread: a flight-recorder dump can take seconds to merge, and meanwhile the
// recorder must go on reading triggers and copying rings (a trigger read late finds its chunks reused).
import { join } from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { PACKAGE_ROOT } from './collector-path.js';
import { mergeTrace, type MergeSummary } from './merge.js';

interface Job {
  rawDir: string;
  output: string;
  window?: { fromNs: number; toNs: number };
}

if (!isMainThread && parentPort && (workerData as { mergeWorker?: boolean } | null)?.mergeWorker) {
  const port = parentPort;
  port.on('message', (job: Job) => {
    try {
      port.postMessage({ ok: mergeTrace(job.rawDir, job.output, { window: job.window }) });
    } catch (err) {
      port.postMessage({ error: (err as Error).message });
    }
  });
}

/** The compiled module (a worker runs JavaScript: from the sources, the build's twin in dist/). */
function workerFile(): string {
  const here = new URL(import.meta.url).pathname;
  return here.endsWith('.ts') ? join(PACKAGE_ROOT, 'dist', 'trace', 'merge-worker.js') : here;
}

/** Merges in a worker thread; rejects with the merge's error message. */
export function mergeTraceInWorker(rawDir: string, output: string, window?: { fromNs: number; toNs: number }): Promise<MergeSummary> {
  return new Promise((res, rej) => {
    const w = new Worker(workerFile(), { workerData: { mergeWorker: true } });
    w.once('message', (m: { ok?: MergeSummary; error?: string }) => {
      void w.terminate();
      if (m.ok) res(m.ok);
      else rej(new Error(m.error ?? 'merge failed'));
    });
    w.once('error', (err) => rej(err));
    w.postMessage({ rawDir, output, window } satisfies Job);
  });
}
