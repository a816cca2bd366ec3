// A pool of long-lived Python worker processes speaking JSON lines (worker.py). Each job is one
// start/end range on the Node side, so the Node and Python timelines line up in one trace.
import { createInterface } from 'node:readline';
import { domain, spawnTraced } from 'gil-nvtx';

const jobs = domain('mixed: jobs');

export class PythonPool {
  #workers = [];
  #next = 0;
  #seq = 0;

  constructor({ python, size = 2, script = new URL('./worker.py', import.meta.url).pathname, threads = 3 }) {
    for (let i = 0; i < size; i++) {
      // spawnTraced keeps process.env, which is how nsys and the collector follow the workers.
      const child = spawnTraced(python, ['-u', script], {
        name: `python worker ${i}`,
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { MIXED_WORKER_THREADS: String(threads) },
      });
      const pending = new Map();
      createInterface({ input: child.stdout }).on('line', (line) => {
        let reply;
        try {
          reply = JSON.parse(line);
        } catch {
          return;
        }
        const waiter = pending.get(reply.id);
        if (!waiter) return;
        pending.delete(reply.id);
        if (reply.ok) waiter.resolve(reply);
        else waiter.reject(new Error(reply.error));
      });
      child.on('exit', (code, signal) => {
        for (const waiter of pending.values()) waiter.reject(new Error(`worker ${i} exited (${signal ?? code})`));
        pending.clear();
      });
      this.#workers.push({ child, pending });
    }
  }

  /** Runs one job on the next worker, round robin. */
  run(job) {
    const worker = this.#workers[this.#next++ % this.#workers.length];
    const id = ++this.#seq;
    return jobs.trace(`job ${job.kind}`, { payload: id }, () =>
      new Promise((resolve, reject) => {
        worker.pending.set(id, { resolve, reject });
        worker.child.stdin.write(JSON.stringify({ ...job, id }) + '\n');
      }),
    );
  }

  /** Closes stdin so each worker drains its queue and exits; resolves when all have. */
  async close() {
    await Promise.all(
      this.#workers.map(
        ({ child }) =>
          new Promise((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', resolve);
            child.stdin.end();
          }),
      ),
    );
  }
}
