// instrumentHttp() on the native path: a server range is open while a request is handled and ends with the
// response (also when the client aborts), and nothing is recorded after the returned stop function runs.
// The nsys test (test/nvtx) and the collector test (http.test.ts) check the ranges themselves.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it, vi } from 'vitest';

type Api = typeof import('../../lib/index.js');

async function loadNative(): Promise<Api> {
  vi.resetModules();
  vi.stubEnv('GIL_NVTX_FORCE_NATIVE', '1');
  vi.stubEnv('GIL_NVTX_ADDON_PATH', undefined as unknown as string);
  return import('../../lib/index.js');
}

afterEach(() => vi.unstubAllEnvs());

async function withServer(handler: http.RequestListener, use: (port: number) => Promise<void>): Promise<void> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await use((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/**
 * Resolves when the server response closes. instrumentHttp() subscribes to the request before the
 * handler runs, so its own 'close' listener (which ends the range) is called before this one.
 */
function closed(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => res.once('close', () => resolve()));
}

it('a range is open while a request is handled and ends with the response', async () => {
  const nvtx = await loadNative();
  expect(nvtx.status().mode).toBe('native');
  const stop = nvtx.instrumentHttp({ domain: nvtx.domain('http test'), client: false });
  const openInHandler: number[] = [];
  const responses: Promise<void>[] = [];
  await withServer(
    (_req, res) => {
      openInHandler.push(nvtx.nativeStats().openRanges);
      responses.push(closed(res));
      res.end('ok');
    },
    async (port) => {
      expect(await get(port, '/a?x=1')).toBe('ok');
      expect(await get(port, '/b')).toBe('ok');
      await Promise.all(responses);
      expect(responses).toHaveLength(2);
      expect(nvtx.nativeStats().openRanges).toBe(0);
      stop();
      expect(await get(port, '/c')).toBe('ok');
    },
  );
  expect(openInHandler).toEqual([1, 1, 0]);
});

it('an aborted request still ends its range', async () => {
  const nvtx = await loadNative();
  const stop = nvtx.instrumentHttp({ domain: nvtx.domain('http test'), client: false });
  // Wrapped: resolving `seen` with the promise itself would wait for it.
  let sawRequest!: (response: { closed: Promise<void> }) => void;
  const seen = new Promise<{ closed: Promise<void> }>((resolve) => (sawRequest = resolve));
  await withServer(
    (_req, res) => sawRequest({ closed: closed(res) }), // never responds
    async (port) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/hang' });
      req.on('error', () => undefined);
      const response = await seen;
      expect(nvtx.nativeStats().openRanges).toBe(1);
      req.destroy();
      // The server sees the connection go: its response closes, unanswered.
      await response.closed;
      expect(nvtx.nativeStats().openRanges).toBe(0);
    },
  );
  stop();
});
