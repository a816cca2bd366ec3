#include "attributes.h"

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
  double d = 0;
  switch (kind) {
    case kPayloadUint64:
    case kPayloadInt64: {
      uint64_t bits;
      if (value.IsBigInt()) {
        bool lossless = true;
        bits = kind == kPayloadInt64 ? static_cast<uint64_t>(value.As<Napi::BigInt>().Int64Value(&lossless))
                                     : value.As<Napi::BigInt>().Uint64Value(&lossless);
      } else {
        if (!number("a number or a BigInt", &d)) return false;
        bits = kind == kPayloadInt64 ? static_cast<uint64_t>(static_cast<int64_t>(d)) : static_cast<uint64_t>(d);
      }
      attribs->payload.ullValue = bits;
      break;
    }
    case kPayloadDouble:
      if (!number("a number", &d)) return false;
      attribs->payload.dValue = d;
      break;
    case kPayloadFloat:
      if (!number("a number", &d)) return false;
      attribs->payload.fValue = static_cast<float>(d);
      break;
    case kPayloadUint32:
      if (!number("a number", &d)) return false;
      attribs->payload.uiValue = value.As<Napi::Number>().Uint32Value();
      break;
    case kPayloadInt32:
      if (!number("a number", &d)) return false;
      attribs->payload.iValue = value.As<Napi::Number>().Int32Value();
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
    const StringEntry* entry = registry.String(message.As<Napi::Number>().Uint32Value());
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
