// One wording for every argument error the addon throws, so that the TypeScript layer (lib/nvtx/validate.ts)
// and the native backstop read the same: "gil-nvtx: <fn>(): argument <n> (<name>) must be <expected>".
#pragma once

#include <node_api.h>

#include <cstdio>

namespace gilnvtx {

// Throwing can itself fail while a worker is terminating (napi_cannot_run_js / pending exception); there is
// nothing useful to do then, so the status is ignored on purpose.
inline void ThrowArgError(napi_env env, bool type_error, const char* fn, int index, const char* name,
                          const char* expected) {
  char message[256];
  std::snprintf(message, sizeof message, "gil-nvtx: %s(): argument %d (%s) must be %s", fn, index, name,
                expected);
  if (type_error) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  } else {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
  }
}

}  // namespace gilnvtx

// Reads argument `index` of `argv` as a uint32 into `out`, or throws the uniform TypeError and returns.
#define GILNVTX_ARG_UINT32(env, argv, index, out, fn, name)                                    \
  do {                                                                                       \
    if (napi_get_value_uint32((env), (argv)[(index)], &(out)) != napi_ok) {                  \
      ::gilnvtx::ThrowArgError((env), true, (fn), (index), (name), "a number (uint32)");     \
      return nullptr;                                                                        \
    }                                                                                        \
  } while (0)
