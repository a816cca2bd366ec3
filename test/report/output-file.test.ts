import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, lstatSync, openSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeOutputFile } from '../../lib/output-file.js';
import { smallFs } from '../helpers/small-fs.js';
import { fixture, scratch } from './helpers.js';

const CLI = join(import.meta.dirname, '../../bin/gil-nvtx.js');
const report = (args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, 'report', '--quiet', ...args], { encoding: 'utf8', env: { ...process.env, CI: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** Starts `cat FIFO` and returns what it read once it exits (the writer's close ends it). */
function readFifo(fifo: string): Promise<string> {
  const cat = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
  let text = '';
  cat.stdout.on('data', (b: Buffer) => (text += b.toString()));
  return new Promise((res, rej) => {
    cat.on('error', rej);
    cat.on('close', () => res(text));
  });
}

describe('output files (--html, --perfetto, trace.sqlite)', () => {
  it('a FIFO is written in place and stays a FIFO', async () => {
    const fifo = join(scratch(), 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    const read = readFifo(fifo);
    writeOutputFile(fifo, (out) => out.write('{"traceEvents":[]}\n'));
    expect(await read).toBe('{"traceEvents":[]}\n');
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('report --perfetto FIFO: the reader gets the JSON, the FIFO stays', async () => {
    const g = fixture('fifo');
    const fifo = join(scratch(), 'perfetto.fifo');
    execFileSync('mkfifo', [fifo]);
    const read = readFifo(fifo);
    const r = report([g.path, '--perfetto', fifo]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(await read).traceEvents.length).toBeGreaterThan(100);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('report --html through a symlink: the link stays, its target gets the page', () => {
    const g = fixture('symlink');
    const dir = scratch();
    writeFileSync(join(dir, 'real.html'), 'old');
    symlinkSync('real.html', join(dir, 'link.html'));
    const r = report([g.path, '--html', join(dir, 'link.html')]);
    expect(r.code).toBe(0);
    expect(lstatSync(join(dir, 'link.html')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'link.html'))).toBe('real.html');
    expect(readFileSync(join(dir, 'real.html'), 'utf8')).toMatch(/^<!DOCTYPE html>/);
    // A dangling link creates its target, as a shell redirection would.
    symlinkSync('new.json', join(dir, 'dangling.json'));
    expect(report([g.path, '--perfetto', join(dir, 'dangling.json')]).code).toBe(0);
    expect(lstatSync(join(dir, 'dangling.json')).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'new.json'), 'utf8')).traceEvents.length).toBeGreaterThan(100);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a full disk: one-line error, exit 1, the old file kept, no temp file left', () => {
    const g = fixture('full', { holds: 2000 });
    const fs = smallFs();
    try {
      const target = join(fs.dir, 'p.json');
      writeFileSync(target, 'previous run');
      const r = report([g.path, '--perfetto', target]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^gil-nvtx report: writing .*p\.json failed: .*(ENOSPC|no space left)/i);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(readFileSync(target, 'utf8')).toBe('previous run');
      expect(readdirSync(fs.dir)).toEqual(['p.json']);
      // HTML alike.
      const h = report([g.path, '--html', join(fs.dir, 'r.html')]);
      expect(h.code).toBe(1);
      expect(readdirSync(fs.dir)).toEqual(['p.json']);
    } finally {
      fs.dispose();
    }
  });

  it('a device that fails writes (a node of /dev/full) is an error, not a success, and stays a device', () => {
    const g = fixture('devfull');
    // A node of our own with /dev/full's numbers: a regression here must not replace the system's.
    const full = join(scratch(), 'full');
    execFileSync('mknod', [full, 'c', '1', '7']);
    const r = report([g.path, '--perfetto', full]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/writing .*full failed: .*(ENOSPC|no space left)/i);
    expect(lstatSync(full).isCharacterDevice()).toBe(true);
  });

  it('report --json redirected to a file on a full disk: exit 1, one line, the file as it was before', () => {
    const g = fixture('stdout-full', { holds: 2000 });
    const fs = smallFs(16 * 1024);
    /** The report with stdout opened on `file` in `flags` mode, as a shell's `>` or `>>` does. */
    const reportInto = (file: string, flags: 'w' | 'a') => {
      const fd = openSync(file, flags);
      try {
        return spawnSync(process.execPath, [CLI, 'report', '--quiet', '--json', g.path], { encoding: 'utf8', stdio: ['ignore', fd, 'pipe'], env: { ...process.env, CI: '' } });
      } finally {
        closeSync(fd);
      }
    };
    try {
      const out = join(fs.dir, 'report.json');
      const cut = reportInto(out, 'w');
      expect(cut.status).toBe(1);
      expect(cut.stderr).toMatch(/^gil-nvtx report: cannot write the output to stdout: ENOSPC/);
      expect(cut.stderr).not.toMatch(/\n\s+at /);
      expect(readFileSync(out, 'utf8')).toBe('');
      writeFileSync(out, 'earlier\n');
      expect(reportInto(out, 'a').status).toBe(1);
      expect(readFileSync(out, 'utf8')).toBe('earlier\n');
    } finally {
      fs.dispose();
    }
    // A device that fails every write (a node of /dev/full's numbers) as stdout: one line, exit 1.
    const full = join(scratch(), 'full');
    execFileSync('mknod', [full, 'c', '1', '7']);
    const dev = reportInto(full, 'w');
    expect(dev.status).toBe(1);
    expect(dev.stderr).toMatch(/cannot write the output.*ENOSPC/);
    expect(dev.stderr).not.toMatch(/\n\s+at /);
  });

  it('a directory is refused with one line', () => {
    const r = report([fixture('dir').path, '--html', scratch()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is a directory/);
  });
});
