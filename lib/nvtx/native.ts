// The one module that loads the compiled addon. It never throws: a binary that cannot be found or loaded
// becomes a LoadResult with every path tried, and the API above it falls back to no-ops.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** Package root: lib/nvtx and dist/nvtx both sit two levels below it. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Environment variable naming one `.node` file to load instead of searching (tests, unusual installs). */
export const ADDON_PATH_ENV = 'GIL_NVTX_ADDON_PATH';

export interface NativeStats {
  /** Start/end ranges started and not yet ended, process-wide. */
  openRanges: number;
  /** Slots of the start/end table ever used (its high-water mark): memory stays bounded by this. */
  rangeSlots: number;
  rangeSlotCapacity: number;
  domains: number;
  strings: number;
  resources: number;
  /** Serial number of this Node environment (main thread or worker). */
  envSerial: number;
}

/** Payload kinds as NVTX numbers them (nvtxPayloadType_t); 0 = no payload. */
export const PayloadKind = { none: 0, uint64: 1, int64: 2, double: 3, uint32: 4, int32: 5, float: 6 } as const;

/** Resource identifier kinds (NVTX_RESOURCE_TYPE_GENERIC_POINTER / _HANDLE). */
export const ResourceKind = { pointer: 0x10001, handle: 0x10002 } as const;

/**
 * The raw addon surface (native/addon). Hot calls take one uint32 and return nothing (start returns a
 * uint32 slot id); the `*Ex` calls carry full event attributes.
 */
export interface RawBinding {
  noop(): void;
  push(message: number): void;
  pop(domain: number): void;
  start(message: number): number;
  end(range: number): void;
  mark(message: number): void;
  /** Zero-argument push/mark for one registered string, pop for one domain: the cheapest calls (hot.h). */
  bindPush(message: number): () => void;
  bindMark(message: number): () => void;
  bindPop(domain: number): () => void;
  domainCreate(name: string): number;
  registerString(domain: number, text: string): number;
  pushEx(domain: number, message: number | string, category: number, color: number | undefined, payloadKind: number, payload: number | bigint | undefined): void;
  startEx(domain: number, message: number | string, category: number, color: number | undefined, payloadKind: number, payload: number | bigint | undefined): number;
  markEx(domain: number, message: number | string, category: number, color: number | undefined, payloadKind: number, payload: number | bigint | undefined): void;
  nameCategory(domain: number, id: number, name: string): void;
  categoryId(domain: number, name: string): number;
  resourceCreate(domain: number, kind: number, identifier: number | bigint, name: string): number;
  resourceDestroy(resource: number): boolean;
  nameThread(name: string): number;
  threadId(): number;
  stats(): NativeStats;
}

/**
 * The addon's exports object is in V8 dictionary mode (napi_define_properties), so every `exports.push`
 * would be a hash lookup. An object literal with the same functions has fast properties (a loop of keyed
 * stores would not: V8 normalises objects that gain many properties that way). The functions do not use
 * their receiver.
 */
function fastCopy(e: RawBinding, file: string): RawBinding {
  const b: RawBinding = {
    noop: e.noop, push: e.push, pop: e.pop, start: e.start, end: e.end, mark: e.mark,
    bindPush: e.bindPush, bindMark: e.bindMark, bindPop: e.bindPop,
    domainCreate: e.domainCreate, registerString: e.registerString,
    pushEx: e.pushEx, startEx: e.startEx, markEx: e.markEx,
    nameCategory: e.nameCategory, categoryId: e.categoryId,
    resourceCreate: e.resourceCreate, resourceDestroy: e.resourceDestroy,
    nameThread: e.nameThread, threadId: e.threadId, stats: e.stats,
  };
  for (const [key, value] of Object.entries(b)) {
    if (typeof value !== 'function') throw new Error(`${file} is not the gil-nvtx addon (no ${key} export)`);
  }
  return b;
}

export interface LoadResult {
  binding: RawBinding | null;
  /** The file that loaded. */
  path: string | null;
  error: Error | null;
  /** Every place looked at, in order, with why it did not load. */
  tried: string[];
}

function searchedDirs(env: NodeJS.ProcessEnv): string[] {
  // node-gyp-build 4.8's order (prebuilds/<platform>-<arch>, then build/Release), for the message; it does the actual search.
  const dirs: string[] = [];
  // node-gyp-build's own override variable: <PACKAGE_NAME>_PREBUILD.
  const override = env.GIL_NVTX_PREBUILD;
  if (override) dirs.push(`${override} (GIL_NVTX_PREBUILD)`);
  if (env.PREBUILDS_ONLY !== '1') {
    dirs.push(join(PACKAGE_ROOT, 'build', 'Release'), join(PACKAGE_ROOT, 'build', 'Debug'));
  }
  const tuple = `${process.platform}-${process.arch}`;
  dirs.push(join(PACKAGE_ROOT, 'prebuilds', tuple), join(dirname(process.execPath), 'prebuilds', tuple));
  return dirs;
}

export function loadNative(env: NodeJS.ProcessEnv = process.env): LoadResult {
  const explicit = env[ADDON_PATH_ENV];
  let file: string;
  const tried: string[] = [];
  if (explicit) {
    file = explicit;
  } else {
    try {
      const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
      file = nodeGypBuild.resolve(PACKAGE_ROOT);
    } catch (err) {
      tried.push(...searchedDirs(env).map((d) => `${d}: no loadable gil-nvtx .node file`));
      return { binding: null, path: null, error: err as Error, tried };
    }
  }
  try {
    const binding = fastCopy(require(file) as RawBinding, file);
    return { binding, path: file, error: null, tried: [file] };
  } catch (err) {
    tried.push(`${file}${explicit ? ` (${ADDON_PATH_ENV})` : ''}: ${(err as Error).message.split('\n')[0]}`);
    return { binding: null, path: null, error: err as Error, tried };
  }
}

export function loadFailureMessage(result: LoadResult): string {
  return (
    'gil-nvtx: the native NVTX addon could not be loaded, so every NVTX call is a no-op. Tried:\n' +
    result.tried.map((t) => `  - ${t}`).join('\n') +
    '\nTo fix: rebuild it with `npm rebuild gil-nvtx` (in a checkout: `npm run build:native`); that needs a ' +
    'C++17 compiler and the NVTX v3 headers (set NVTX_INCLUDE_DIR if they are not found). ' +
    'If npm skipped install scripts, approve them (`npm install-scripts approve gil-nvtx`) and rebuild.'
  );
}
