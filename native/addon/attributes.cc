#include "attributes.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "args.h"
#include "check.h"
#include "registry.h"

namespace gilnvtx {

namespace {

bool ParsePayload(const Napi::CallbackInfo& info, const char* fn, nvtxEventAttributes_t* attribs) {
  uint32_t kind;
  if (!ArgUint32(info, 4, fn, "payloadKind", &kind)) return false;
  if (kind == kPayloadNone) return true;
  Napi::Value value = info[5];
  auto number = [&](const char* expected, double* out) {
    if (!value.IsNumber()) {
      ThrowArgError(info.Env(), true, fn, 5, "payload", expected);
      return false;
    }
    *out = value.As<Napi::Number>().DoubleValue();
    return true;
  };
  auto out_of_range = [&](const char* expected) {
    ThrowArgError(info.Env(), false, fn, 5, "payload", expected);
    return false;
  };
  double d = 0;
  switch (kind) {
    case kPayloadInt64:
      if (value.IsBigInt()) {
        bool lossless = true;
        attribs->payload.llValue = value.As<Napi::BigInt>().Int64Value(&lossless);
        if (!lossless) return out_of_range("an integer from -2^63 to 2^63-1 (int64)");
      } else {
        if (!number("a number or a BigInt", &d)) return false;
        if (!WholeIn(d, -0x1p63, 0x1p63)) return out_of_range("an integer from -2^63 to 2^63-1 (int64)");
        attribs->payload.llValue = static_cast<int64_t>(d);
      }
      break;
    case kPayloadUint64:
      if (value.IsBigInt()) {
        bool lossless = true;
        attribs->payload.ullValue = value.As<Napi::BigInt>().Uint64Value(&lossless);
        if (!lossless) return out_of_range("an integer from 0 to 2^64-1 (uint64)");
      } else {
        if (!number("a number or a BigInt", &d)) return false;
        if (!WholeIn(d, 0, 0x1p64)) return out_of_range("an integer from 0 to 2^64-1 (uint64)");
        attribs->payload.ullValue = static_cast<uint64_t>(d);
      }
      break;
    case kPayloadDouble:
      if (!number("a number", &d)) return false;
      attribs->payload.dValue = d;
      break;
    case kPayloadFloat:
      if (!number("a number", &d)) return false;
      // Converting a finite double beyond float's range is undefined; NaN and infinities convert.
      if (std::isfinite(d) && std::fabs(d) > std::numeric_limits<float>::max()) {
        return out_of_range("a number within float range, NaN or +-Infinity (float)");
      }
      attribs->payload.fValue = static_cast<float>(d);
      break;
    case kPayloadUint32:
      if (!number("a number", &d)) return false;
      if (!WholeIn(d, 0, 0x1p32)) return out_of_range("an integer from 0 to 4294967295 (uint32)");
      attribs->payload.uiValue = static_cast<uint32_t>(d);
      break;
    case kPayloadInt32:
      if (!number("a number", &d)) return false;
      if (!WholeIn(d, -0x1p31, 0x1p31)) return out_of_range("an integer from -2147483648 to 2147483647 (int32)");
      attribs->payload.iValue = static_cast<int32_t>(d);
      break;
    default:
      ThrowArgError(info.Env(), false, fn, 4, "payloadKind", "an NVTX payload type (0-6)");
      return false;
  }
  attribs->payloadType = static_cast<int32_t>(kind);
  return true;
}

}  // namespace

bool ParseEvent(const Napi::CallbackInfo& info, const char* fn, ParsedEvent* out) {
  uint32_t domain_index;
  if (!ArgUint32(info, 0, fn, "domain", &domain_index)) return false;
  Registry& registry = Registry::Get();
  if (!registry.DomainHandle(domain_index, &out->domain)) {
    ThrowArgError(info.Env(), false, fn, 0, "domain", "a domain index from domainCreate()");
    return false;
  }
  nvtxEventAttributes_t& attribs = out->attribs;
  attribs = nvtxEventAttributes_t{};
  attribs.version = NVTX_VERSION;
  attribs.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;

  Napi::Value message = info[1];
  if (message.IsNumber()) {
    double number = message.As<Napi::Number>().DoubleValue();
    // 1.5 must not pass for handle 1: only whole numbers are looked up.
    const StringEntry* entry = WholeIn(number, 0, 0x1p32) ? registry.String(static_cast<uint32_t>(number)) : nullptr;
    if (entry == nullptr || entry->domain != domain_index) {
      ThrowArgError(info.Env(), false, fn, 1, "message", "a handle from registerString() on the same domain");
      return false;
    }
    attribs.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
    attribs.message.registered = entry->handle;
  } else if (message.IsString()) {
    out->text = message.As<Napi::String>().Utf8Value();
    attribs.messageType = NVTX_MESSAGE_TYPE_ASCII;
    attribs.message.ascii = out->text.c_str();
  } else {
    ThrowArgError(info.Env(), true, fn, 1, "message", "a string or a handle from registerString()");
    return false;
  }

  if (!ArgUint32(info, 2, fn, "category", &attribs.category)) return false;
  Napi::Value color = info[3];
  if (!color.IsUndefined()) {
    if (!ArgUint32(info, 3, fn, "color", &attribs.color)) return false;
    attribs.colorType = NVTX_COLOR_ARGB;
  }
  return ParsePayload(info, fn, &attribs);
}

}  // namespace gilnvtx
