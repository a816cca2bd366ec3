#!/usr/bin/env node
// `npm run prebuild` (and `npm pack`, through prepack): the binaries a registry install needs, in
// prebuilds/<platform>-<arch>/: the addon (prebuildify's name, which node-gyp-build picks), the collector
// library and its watchdog (where lib/trace/collector-path.ts looks). With them, an install needs no
// compiler and no NVTX headers.
//
// prebuildify runs `node-gyp rebuild`, which starts by deleting build/. It runs in a copy of the build
// inputs (build-prebuild/, inside the package so that node-addon-api still resolves) so that a
// developer's build/Release, which the tests and the CLI use, is never touched.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tuple = `${process.platform}-${process.arch}`;
const staging = join(root, 'build-prebuild');
const out = join(root, 'prebuilds', tuple);

function fail(message) {
  process.stderr.write(`prebuild: ${message}\n`);
  process.exit(1);
}

// node-gyp needs the headers of the Node it builds for; when the running Node ships them (Debian's
// /usr/include/node, the official tarballs' include/node), use those instead of a download.
const env = { ...process.env };
const ownHeaders = join(dirname(process.execPath), '..', 'include', 'node', 'node_api.h');
if (!env.npm_config_nodedir && existsSync(ownHeaders)) env.npm_config_nodedir = join(dirname(process.execPath), '..');

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, env, stdio: 'inherit' });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

rmSync(staging, { recursive: true, force: true });
mkdirSync(join(staging, 'scripts'), { recursive: true });
for (const entry of ['binding.gyp', 'native']) cpSync(join(root, entry), join(staging, entry), { recursive: true });
cpSync(join(root, 'scripts', 'nvtx-headers.cjs'), join(staging, 'scripts', 'nvtx-headers.cjs'));
// prebuildify names the addon after the package.
writeFileSync(join(staging, 'package.json'), JSON.stringify({ name: 'gil-nvtx', private: true }));

rmSync(out, { recursive: true, force: true });
// --napi: one binary for every Node version with N-API 9, built against the running Node's headers
// (prebuildify would otherwise ask for the newest Node's); --tag-libc: node-gyp-build skips it on musl.
// prebuildify also copies the shared libraries of build/Release (the collector), stripped.
const prebuildify = join(root, 'node_modules', 'prebuildify', 'bin.js');
run(process.execPath, [prebuildify, '--napi', '--target', process.versions.node, '--strip', '--tag-libc', '--cwd', staging, '--out', root], root);

const watchdog = join(out, 'gil_nvtx_watchdog');
copyFileSync(join(staging, 'build', 'Release', 'gil_nvtx_watchdog'), watchdog);
chmodSync(watchdog, 0o755);
run('strip', [watchdog], root);
rmSync(staging, { recursive: true, force: true });
process.stdout.write(`prebuild: ${out}\n`);
