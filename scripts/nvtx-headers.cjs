'use strict';
// The one place that knows where NVTX v3 headers come from (docs/nvtx.md). Used by
// binding.gyp (at install, before any TypeScript is compiled), by build-python and by the collector build.
// NVTX is never copied into this repository. Run directly, it prints the include directory or exits 1.
const fs = require('node:fs');
const path = require('node:path');

const HEADER = path.join('nvtx3', 'nvToolsExt.h');

function nsightIncludeDirs(env) {
  const dirs = [];
  const suffix = path.join('target-linux-x64', 'nvtx', 'include');
  const nsys = findOnPath('nsys', env.PATH || '');
  if (nsys) {
    // nsys lives in <install>/bin or <install>/host-linux-x64; the target folder sits beside them.
    const root = path.dirname(path.dirname(fs.realpathSync(nsys)));
    dirs.push(path.join(root, suffix));
  }
  dirs.push(path.join('/usr/lib/x86_64-linux-gnu/nsight-systems', suffix));
  for (const base of ['/opt/nvidia/nsight-systems', '/usr/local/cuda/nsight-systems']) {
    let entries = [];
    try {
      entries = fs.readdirSync(base).sort().reverse();
    } catch {
      continue;
    }
    for (const version of entries) dirs.push(path.join(base, version, suffix));
  }
  return dirs;
}

function findOnPath(exe, searchPath) {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, exe);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* keep looking */
    }
  }
  return null;
}

/**
 * Returns { includeDir, source, tried } for the first folder holding nvtx3/nvToolsExt.h, in the order
 * NVTX_INCLUDE_DIR, CUDA (CUDA_HOME, CUDA_PATH, /usr/local/cuda/include), Nsight Systems, /usr/include.
 * Throws an Error listing every folder tried when none does.
 */
function findNvtxHeaders(env = process.env) {
  const groups = [];
  if (env.NVTX_INCLUDE_DIR) groups.push(['NVTX_INCLUDE_DIR', [env.NVTX_INCLUDE_DIR]]);
  const cuda = [];
  if (env.CUDA_HOME) cuda.push(path.join(env.CUDA_HOME, 'include'));
  if (env.CUDA_PATH) cuda.push(path.join(env.CUDA_PATH, 'include'));
  cuda.push('/usr/local/cuda/include');
  groups.push(['CUDA', cuda]);
  groups.push(['Nsight Systems', nsightIncludeDirs(env)]);
  groups.push(['system', ['/usr/include']]);

  const tried = [];
  for (const [source, dirs] of groups) {
    for (const dir of dirs) {
      tried.push({ source, dir });
      if (fs.existsSync(path.join(dir, HEADER))) return { includeDir: dir, source, tried };
    }
    if (source === 'NVTX_INCLUDE_DIR') {
      // An explicit setting that is wrong is a mistake to report, not a reason to pick another copy.
      throw new Error(
        `NVTX headers not found: NVTX_INCLUDE_DIR=${env.NVTX_INCLUDE_DIR} has no ${HEADER}.\n` +
          'Point NVTX_INCLUDE_DIR at the folder that contains nvtx3/, or unset it to search the usual places.',
      );
    }
  }
  const lines = tried.map((t) => `  - ${path.join(t.dir, HEADER)} (${t.source})`);
  throw new Error(
    'NVTX v3 headers not found. Looked for nvtx3/nvToolsExt.h in:\n' +
      lines.join('\n') +
      '\nInstall the CUDA toolkit or Nsight Systems (its target package ships nvtx/include), or set ' +
      'NVTX_INCLUDE_DIR to a folder that contains nvtx3/ (NVIDIA/NVTX c/include).',
  );
}

module.exports = { findNvtxHeaders, HEADER };

if (require.main === module) {
  try {
    process.stdout.write(findNvtxHeaders().includeDir + '\n');
  } catch (err) {
    process.stderr.write(`gil-nvtx: ${err.message}\n`);
    process.exit(1);
  }
}
