// nsysProfile() runs nsys a second time for one failure only: nsys ended by itself, wrote no report and
// did not refuse its command line. It says so on stderr. A command line nsys refused and a timeout are
// not run again, and a second run without a report is an error, not a third run. A stand-in nsys plays
// one scripted outcome per call (FAKE_NSYS_PLAN) and counts its calls.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { nsysProfile } from '../../lib/nsys/run.js';

const FAKE_NSYS = `#!/usr/bin/env bash
[ "$1" = profile ] || exit 3
echo call >> "$FAKE_NSYS_CALLS"
n=$(wc -l < "$FAKE_NSYS_CALLS")
outcome=$(echo "$FAKE_NSYS_PLAN" | cut -d, -f"$n")
for a in "$@"; do case "$a" in --output=*) out=\${a#--output=} ;; esac; done
case "$outcome" in
  report) echo report > "$out.nsys-rep"; exit 0 ;;
  none) echo "Generating '/tmp/nsys-report-x.qdstrm'"; exit 0 ;;
  usage) echo "usage: nsys profile [<args>] [application] [<application args>]"; exit 1 ;;
  missing) echo "No such file or directory: /nonexistent/prog"; exit 1 ;;
  hang) exec sleep 60 ;;
esac
exit 4
`;

let dir: string;
let run = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gil-nvtx-nsys-retry-'));
  writeFileSync(join(dir, 'nsys'), FAKE_NSYS);
  chmodSync(join(dir, 'nsys'), 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function profileWith(plan: string, timeoutSec = 60) {
  const id = ++run;
  const calls = join(dir, `calls-${id}`);
  writeFileSync(calls, '');
  const stderr: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  });
  const env = {
    ...process.env,
    GIL_NVTX_NSYS: join(dir, 'nsys'),
    // Its own lock: the stand-in never waits for a real nsys run elsewhere on the machine.
    GIL_NVTX_NSYS_LOCK: join(dir, 'lock'),
    FAKE_NSYS_PLAN: plan,
    FAKE_NSYS_CALLS: calls,
  };
  const result = nsysProfile(['/bin/true'], { output: join(dir, `out-${id}`), exportSqlite: false, timeoutSec, env }).then(
    (r) => ({ ok: r }),
    (err: Error) => ({ error: err }),
  );
  const settled = await result;
  vi.restoreAllMocks();
  return { ...settled, calls: () => readFileSync(calls, 'utf8').split('\n').filter(Boolean).length, stderr };
}

const RETRY_LINE = /^gil-nvtx: nsys profile ended \(exit 0\) without writing .*out-\d+\.nsys-rep; running it once more\n$/;

describe('nsysProfile retries', () => {
  it('a first run with a report is the only run', async () => {
    const r = await profileWith('report');
    expect('ok' in r && r.ok.retried).toBe(false);
    expect(r.calls()).toBe(1);
    expect(r.stderr).toEqual([]);
  });

  it('runs nsys once more, and says so on stderr, when it ended by itself without a report', async () => {
    const r = await profileWith('none,report');
    expect('ok' in r && r.ok.retried).toBe(true);
    expect(r.calls()).toBe(2);
    expect(r.stderr).toHaveLength(1);
    expect(r.stderr[0]).toMatch(RETRY_LINE);
  });

  it('a second run without a report is an error, never a third run', async () => {
    const r = await profileWith('none,none,report');
    expect('error' in r && r.error.message).toMatch(/^nsys profile produced no report \(.*\), twice\.$/);
    expect(r.calls()).toBe(2);
    expect(r.stderr).toHaveLength(1);
  });

  it.each(['usage', 'missing'])('a command line nsys refused (%s) is not run again', async (outcome) => {
    const r = await profileWith(`${outcome},report`);
    expect('error' in r && r.error.message).toMatch(/^nsys profile produced no report \([^)]*\)\.$/);
    expect(r.calls()).toBe(1);
    expect(r.stderr).toEqual([]);
  });

  it('a timeout is not run again', async () => {
    const r = await profileWith('hang,report', 1);
    expect('error' in r && r.error.message).toMatch(/after timing out at 1 s\.$/);
    expect(r.calls()).toBe(1);
    expect(r.stderr).toEqual([]);
  });
});
