// The hot exports, written as raw napi_callbacks: one napi_get_cb_info (no `this`), one
// napi_get_value_uint32, the NVTX call, and nothing returned except start()'s Smi slot id.
// node-addon-api's CallbackInfo always fetches `this` and `data` and copies arguments, which the
// notes measured at a third more instructions per call (node-addon.md §4-5).
#pragma once

#include <node_api.h>
#include <nvtx3/nvToolsExt.h>

#include <cstdint>

namespace gilnvtx {

// Per-environment data the hot calls receive through the function's data slot.
struct EnvState {
  uint32_t serial;  // identifies the Node environment (main thread or a worker) that owns started ranges
};

// Defines noop, push, pop, start, end and mark on `exports`.
napi_status DefineHotExports(napi_env env, napi_value exports, EnvState* state);

// The hottest shape: zero-argument functions bound to one registered string (push, mark) or one domain
// (pop), so a call does no argument conversion. Callgrind on Node 20: napi_get_cb_info with one argument
// plus napi_get_value_uint32 cost ~90 instructions, reading only the data slot ~34, against ~140 for a
// whole empty native call. So the first kSpecializedStrings strings and kSpecializedDomains domains get
// their own compiled callback (a template instance that knows its index) and make no napi_* call at all;
// later ones fall back to the data slot. Callers validate `handle`/`domain` first.
constexpr uint32_t kSpecializedStrings = 256;
constexpr uint32_t kSpecializedDomains = 64;

napi_status MakeBoundPush(napi_env env, uint32_t handle, napi_value* out);
napi_status MakeBoundMark(napi_env env, uint32_t handle, napi_value* out);
napi_status MakeBoundPop(napi_env env, uint32_t domain, napi_value* out);

}  // namespace gilnvtx
