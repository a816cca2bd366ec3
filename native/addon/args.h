// Argument readers for the cold exports (node-addon-api). Each throws the uniform error from check.h and
// returns false, so a caller writes `if (!ArgUint32(...)) return {};`.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace gilnvtx {

// True when `d` is a whole number in [lo, hi_exclusive): NaN, fractions and out-of-range values are
// false, so converting a value that passed to an integer type is never undefined behaviour.
inline bool WholeIn(double d, double lo, double hi_exclusive) {
  return d >= lo && d < hi_exclusive && std::trunc(d) == d;
}

// A whole number from 0 to 2^32-1: a TypeError for other types, a RangeError for 1.5, -1 or NaN.
bool ArgUint32(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name, uint32_t* out);
bool ArgString(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name, std::string* out);
// A number (integral, >= 0) or a BigInt, as the 64 raw bits NVTX stores.
bool ArgUint64(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name, uint64_t* out);

}  // namespace gilnvtx
