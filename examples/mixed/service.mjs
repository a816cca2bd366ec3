// The mixed service: an HTTP front end that hands each request to a pool of Python workers.
//   POST-free on purpose: GET /predict, /report, /ingest map to jobs that stress the GIL differently.
import http from 'node:http';
import { instrumentHttp, nameThread } from 'gil-nvtx';
import { PythonPool } from './pool.mjs';

// Request kinds → the jobs a request runs. Every `stallEvery`-th request (0: never) that is a /predict
// meets a C call that blocks holding the GIL; /stall always does, so that a load can pace its stalls
// (the flight recorder's soak sends one at random times).
export function routes({ stallEvery = 5, stallMs = 200 } = {}) {
  const stall = { kind: 'stall', ms: stallMs };
  return {
    '/predict': (n) => [{ kind: 'cpu', ms: 20 }, ...(stallEvery > 0 && n % stallEvery === 0 ? [stall] : [])],
    '/report': () => [{ kind: 'hash' }, { kind: 'cpu', ms: 10 }],
    '/ingest': () => [{ kind: 'write' }],
    '/stall': () => [stall],
  };
}

export function startService({ python, workers = 2, port = 0, host = '127.0.0.1', servedLog, stallEvery, stallMs }) {
  const ROUTES = routes({ stallEvery, stallMs });
  nameThread('node event loop');
  const uninstall = instrumentHttp({ domain: 'mixed: http' });
  const pool = new PythonPool({ python, size: workers, servedLog });
  let served = 0;
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = ROUTES[path];
    if (!route) {
      res.writeHead(404).end('not found\n');
      return;
    }
    try {
      const n = ++served;
      for (const job of route(n)) await pool.run(job);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } catch (err) {
      res.writeHead(500).end(`${err.message}\n`);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: bound } = server.address();
      resolve({
        url: `http://${host}:${bound}`,
        async close() {
          await new Promise((r) => server.close(r));
          await pool.close();
          uninstall();
        },
      });
    });
  });
}
