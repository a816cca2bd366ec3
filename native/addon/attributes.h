// Full NVTX event attributes for the cold "Ex" exports: message (registered handle or text), category,
// ARGB color and a typed payload.
#pragma once

#include <napi.h>
#include <nvtx3/nvToolsExt.h>

#include <string>

namespace gilnvtx {

// The JS-visible payload kinds; the values are NVTX's nvtxPayloadType_t so they pass straight through.
enum PayloadKind : uint32_t {
  kPayloadNone = NVTX_PAYLOAD_UNKNOWN,
  kPayloadUint64 = NVTX_PAYLOAD_TYPE_UNSIGNED_INT64,
  kPayloadInt64 = NVTX_PAYLOAD_TYPE_INT64,
  kPayloadDouble = NVTX_PAYLOAD_TYPE_DOUBLE,
  kPayloadUint32 = NVTX_PAYLOAD_TYPE_UNSIGNED_INT32,
  kPayloadInt32 = NVTX_PAYLOAD_TYPE_INT32,
  kPayloadFloat = NVTX_PAYLOAD_TYPE_FLOAT,
};

struct ParsedEvent {
  nvtxDomainHandle_t domain;
  nvtxEventAttributes_t attribs;
  std::string text;  // owns an unregistered message for the duration of the call
};

// Arguments: (domain: uint32, message: uint32 handle | string, category: uint32, color: uint32 | undefined,
// payloadKind: uint32, payload: number | bigint). Throws the uniform error and returns false on bad input.
bool ParseEvent(const Napi::CallbackInfo& info, const char* fn, ParsedEvent* out);

}  // namespace gilnvtx
