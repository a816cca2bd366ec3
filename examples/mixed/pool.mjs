// A pool of long-lived Python worker processes speaking JSON lines (worker.py). Each job is one
// start/end range on the Node side, a child of the request that runs it, and carries that range's
// correlation id to the worker, whose own range around the job carries it back as payload: the report
// then says which worker process and thread served a slow request, and what held the GIL meanwhile.
import { createInterface } from 'node:readline';
import { currentCorrelationId, domain, spawnTraced } from 'gil-nvtx';

const jobs = domain('mixed: jobs');

export class PythonPool {
  #workers = [];
  #next = 0;
  #seq = 0;

  constructor({ python, size = 2, script = new URL('./worker.py', import.meta.url).pathname, threads = 3, servedLog }) {
    for (let i = 0; i < size; i++) {
      // spawnTraced keeps process.env, which is how nsys and the collector follow the workers.
      const child = spawnTraced(python, ['-u', script], {
        name: `python worker ${i}`,
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { MIXED_WORKER_THREADS: String(threads), ...(servedLog ? { MIXED_WORKER_SERVED_LOG: servedLog } : {}) },
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
    // No payload of its own: the job range is then a child of the request, and the correlation id
    // taken inside it names this range (0 when no NVTX tool is attached: nothing is traced then).
    return jobs.trace(`job ${job.kind}`, () =>
      new Promise((resolve, reject) => {
        worker.pending.set(id, { resolve, reject });
        worker.child.stdin.write(JSON.stringify({ ...job, id, correlation: currentCorrelationId() }) + '\n');
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
