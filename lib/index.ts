// gil-nvtx's public entry point (package.json "exports": dist/index.js).
export * from './nvtx/index.js';
export { GilNvtxError, isGilNvtxError } from './errors.js';
export { instrumentHttp, type HttpInstrumentationOptions, type UndiciRequest } from './instrument/http.js';
export { spawnTraced, type TracedSpawnOptions } from './instrument/child-process.js';
