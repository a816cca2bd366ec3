// Preloaded (--import) by scripts/ci/test-node24.sh: node_modules' better-sqlite3 addon is built for the
// Node that ran `npm ci`, so under Node 24 its require of the .node file is pointed at the copy
// scripts/ci/install-node24.sh built for this Node. Nothing else changes, node_modules included.
import { registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';

const binding = process.env.GIL_NVTX_NODE24_SQLITE;
if (!binding) throw new Error('node24-sqlite-hook: GIL_NVTX_NODE24_SQLITE (the better_sqlite3.node built for this Node) is not set');
const target = pathToFileURL(binding).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url.endsWith('/node_modules/better-sqlite3/build/Release/better_sqlite3.node')) return { ...resolved, url: target };
    return resolved;
  },
});
