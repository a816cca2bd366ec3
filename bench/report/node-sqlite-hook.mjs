// `node --import ./bench/report/node-sqlite-hook.mjs …`: every import of better-sqlite3 gets
// node-sqlite.mjs instead (Node 22.15+/23.5+, module.registerHooks). Benchmark only.
import { registerHooks } from 'node:module';

const shim = new URL('./node-sqlite.mjs', import.meta.url).href;
registerHooks({
  resolve(specifier, context, nextResolve) {
    return specifier === 'better-sqlite3' ? { url: shim, format: 'module', shortCircuit: true } : nextResolve(specifier, context);
  },
});
