// Argument readers for the cold exports (node-addon-api). Each throws the uniform error from check.h and
// returns false, so a caller writes `if (!ArgUint32(...)) return {};`.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace gilnvtx {

bool ArgUint32(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name, uint32_t* out);
bool ArgString(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name, std::string* out);
// A number (integral, >= 0) or a BigInt, as the 64 raw bits NVTX stores.
bool ArgUint64(const Napi::CallbackInfo& info, size_t index, const char* fn, const char* name, uint64_t* out);

}  // namespace gilnvtx
