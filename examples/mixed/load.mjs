// A bounded load: `count` requests over loopback, at most `concurrency` in flight, stopping at `deadlineMs`
// whatever happens. Returns per-request latencies so callers can name the slow ones.
import http from 'node:http';

/** The request mix a load cycles through. */
export const PATHS = ['/predict', '/predict', '/report', '/ingest'];

/** One GET; resolves (never rejects) with its status and latency. */
export function get(url) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = http.get(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ url, status: res.statusCode, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    });
    req.on('error', (err) => resolve({ url, status: 0, error: err.message, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
  });
}

export async function runLoad(baseUrl, { count = 40, concurrency = 4, deadlineMs = 60_000 } = {}) {
  if (!baseUrl.startsWith('http://127.') && !baseUrl.startsWith('http://localhost')) {
    throw new Error(`load: refusing a non-loopback target ${baseUrl}`);
  }
  const deadline = Date.now() + deadlineMs;
  const results = [];
  let issued = 0;
  async function lane() {
    while (issued < count && Date.now() < deadline) {
      const path = PATHS[issued++ % PATHS.length];
      results.push(await get(baseUrl + path));
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return results;
}
