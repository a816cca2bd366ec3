// Picks, once per Node environment, which binding every Domain uses: the native addon when an NVTX tool is
// attached (nsys sets NVTX_INJECTION64_PATH for the processes it profiles), JS no-ops otherwise. Without a
// tool NVTX itself does nothing, so the only cost left is the JS→native hop, which the no-ops skip.
import { createNoopBinding } from './noop.js';
import { loadFailureMessage, loadNative, type LoadResult, type RawBinding } from './native.js';

/** `1` loads the addon even with no tool in the environment (a tool injected later, benchmarks); `0` never does. */
export const FORCE_NATIVE_ENV = 'GIL_NVTX_FORCE_NATIVE';

export type BindingMode = 'native' | 'noop-no-tool' | 'noop-disabled' | 'noop-load-failed';

export interface NvtxStatus {
  /** True when calls reach NVTX through the addon. */
  native: boolean;
  mode: BindingMode;
  /** NVTX_INJECTION64_PATH was set when gil-nvtx loaded: a tool such as nsys will receive the calls. */
  toolAttached: boolean;
  /** GIL_NVTX_FORCE_NATIVE: `true` (=1), `false` (=0) or `null` (unset). */
  forced: boolean | null;
  /** The addon file that loaded. */
  addonPath: string | null;
  /** Why the addon did not load, with every path tried (mode `noop-load-failed`). */
  loadError: string | null;
}

function choose(env: NodeJS.ProcessEnv): { binding: RawBinding; status: NvtxStatus } {
  const toolAttached = Boolean(env.NVTX_INJECTION64_PATH);
  const forceVar = env[FORCE_NATIVE_ENV];
  const forced = forceVar === '1' ? true : forceVar === '0' ? false : null;
  const base = { toolAttached, forced, addonPath: null, loadError: null };
  if (forced === false) return { binding: createNoopBinding(), status: { ...base, native: false, mode: 'noop-disabled' } };
  if (!toolAttached && forced !== true) {
    return { binding: createNoopBinding(), status: { ...base, native: false, mode: 'noop-no-tool' } };
  }
  const loaded: LoadResult = loadNative(env);
  if (loaded.binding) {
    return { binding: loaded.binding, status: { ...base, native: true, mode: 'native', addonPath: loaded.path } };
  }
  const message = loadFailureMessage(loaded);
  // Once per environment: this module is evaluated once per environment.
  process.emitWarning(message, { code: 'GIL_NVTX_ADDON_NOT_LOADED' });
  return { binding: createNoopBinding(), status: { ...base, native: false, mode: 'noop-load-failed', loadError: message } };
}

const chosen = choose(process.env);

export const binding: RawBinding = chosen.binding;

/** How gil-nvtx is wired in this process (or worker), and why. */
export function status(): NvtxStatus {
  return { ...chosen.status };
}

/** True when an NVTX tool (nsys, the gil-nvtx collector, …) was in the environment at load. */
export function isToolAttached(): boolean {
  return chosen.status.toolAttached;
}
