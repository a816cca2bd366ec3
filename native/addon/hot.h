// The hot exports, written as raw napi_callbacks: one napi_get_cb_info (no `this`), one
// napi_get_value_uint32, the NVTX call, and nothing returned except start()'s Smi slot id.
// node-addon-api's CallbackInfo always fetches `this` and `data` and copies arguments, which the
// notes measured at a third more instructions per call (node-addon.md §4-5).
#pragma once

#include <node_api.h>

#include <cstdint>

namespace gilnvtx {

// Per-environment data the hot calls receive through the function's data slot.
struct EnvState {
  uint32_t serial;  // identifies the Node environment (main thread or a worker) that owns started ranges
};

// Defines noop, push, pop, start, end and mark on `exports`.
napi_status DefineHotExports(napi_env env, napi_value exports, EnvState* state);

}  // namespace gilnvtx
