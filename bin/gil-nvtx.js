#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/cli (compiled from lib/cli by `npm install` / `npm run build:ts`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write(
    'gil-nvtx: the compiled CLI is missing (dist/cli/main.js).\n' +
      'Run `npm install` (or `npm run build:ts`) in the gil-nvtx folder first.\n',
  );
  process.exit(1);
}
// `gil-nvtx report … | head` closes the pipe early; that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    // A stream that fails later (a full disk behind a pipe): one line, never a stack trace.
    if (stream !== process.stderr) process.stderr.write(`gil-nvtx: cannot write the output: ${err.message}\n`);
    process.exit(1);
  });
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
