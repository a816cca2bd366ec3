#include "args.h"

#include <cmath>

#include "check.h"

namespace gilnvtx {

bool ArgUint32(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name, uint32_t* out) {
  Napi::Value value = info[index];
  if (!value.IsNumber()) {
    ThrowArgError(info.Env(), true, fn, static_cast<int>(index), name, "a number (uint32)");
    return false;
  }
  double number = value.As<Napi::Number>().DoubleValue();
  if (!WholeIn(number, 0, 0x1p32)) {
    ThrowArgError(info.Env(), false, fn, static_cast<int>(index), name, "an integer from 0 to 4294967295");
    return false;
  }
  *out = static_cast<uint32_t>(number);
  return true;
}

bool ArgString(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name, std::string* out) {
  Napi::Value value = info[index];
  if (!value.IsString()) {
    ThrowArgError(info.Env(), true, fn, static_cast<int>(index), name, "a string");
    return false;
  }
  *out = value.As<Napi::String>().Utf8Value();  // UTF-8: NVTX's "ASCII" entry points pass bytes through
  return true;
}

bool ArgUint64(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name, uint64_t* out) {
  Napi::Value value = info[index];
  if (value.IsBigInt()) {
    bool lossless = true;
    *out = value.As<Napi::BigInt>().Uint64Value(&lossless);
    return true;
  }
  if (value.IsNumber()) {
    double number = value.As<Napi::Number>().DoubleValue();
    if (std::isfinite(number) && number >= 0 && number <= 18446744073709549568.0 && std::trunc(number) == number) {
      *out = static_cast<uint64_t>(number);
      return true;
    }
  }
  ThrowArgError(info.Env(), true, fn, static_cast<int>(index), name, "a non-negative integer or a BigInt");
  return false;
}

}  // namespace gilnvtx
