// gil-nvtx's public entry point (package.json "exports": dist/index.js).
export * from './nvtx/index.js';
export { GilNvtxError, isGilNvtxError } from './errors.js';
export { instrumentHttp, type HttpInstrumentationOptions, type UndiciRequest } from './instrument/http.js';
export { instrumentEventLoop, EVENT_LOOP_DOMAIN, EVENT_LOOP_BLOCKED, type EventLoopInstrumentationOptions } from './instrument/event-loop.js';
export { spawnTraced, type TracedSpawnOptions } from './instrument/child-process.js';
