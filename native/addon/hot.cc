#include "hot.h"

#include "check.h"
#include "ranges.h"
#include "registry.h"

namespace gilnvtx {

namespace {

// A registered-message attribute block; the tool skips copying the text for these.
inline nvtxEventAttributes_t RegisteredAttributes(nvtxStringHandle_t message) {
  nvtxEventAttributes_t attribs = {};
  attribs.version = NVTX_VERSION;
  attribs.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  attribs.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
  attribs.message.registered = message;
  return attribs;
}

// Reads the single uint32 argument. While a worker terminates napi calls fail with napi_cannot_run_js;
// then we return quietly (false with nothing thrown) instead of throwing into a dying environment.
#define GILNVTX_ONE_UINT32(env, info, out, fn, name, data_out)                               \
  napi_value argv[1];                                                                      \
  size_t argc = 1;                                                                         \
  if (napi_get_cb_info((env), (info), &argc, argv, nullptr, (data_out)) != napi_ok) return nullptr; \
  if (argc < 1) {                                                                          \
    ::gilnvtx::ThrowArgError((env), true, (fn), 0, (name), "a number (uint32)");           \
    return nullptr;                                                                        \
  }                                                                                        \
  GILNVTX_ARG_UINT32((env), argv, 0, (out), (fn), (name))

const StringEntry* LookupString(napi_env env, uint32_t handle, const char* fn) {
  const StringEntry* entry = Registry::Get().String(handle);
  if (entry == nullptr) ThrowArgError(env, false, fn, 0, "message", "a handle from registerString()");
  return entry;
}

napi_value Noop(napi_env, napi_callback_info) { return nullptr; }

napi_value Push(napi_env env, napi_callback_info info) {
  uint32_t handle;
  GILNVTX_ONE_UINT32(env, info, handle, "push", "message", nullptr);
  const StringEntry* entry = LookupString(env, handle, "push");
  if (entry == nullptr) return nullptr;
  nvtxEventAttributes_t attribs = RegisteredAttributes(entry->handle);
  nvtxDomainRangePushEx(entry->domain_handle, &attribs);
  return nullptr;
}

// A pop on an empty stack is passed to NVTX as is: the tool decides (nsys ignores it) and can still see it.
napi_value Pop(napi_env env, napi_callback_info info) {
  uint32_t domain_index;
  GILNVTX_ONE_UINT32(env, info, domain_index, "pop", "domain", nullptr);
  nvtxDomainHandle_t domain;
  if (!Registry::Get().DomainHandle(domain_index, &domain)) {
    ThrowArgError(env, false, "pop", 0, "domain", "a domain index from domainCreate()");
    return nullptr;
  }
  nvtxDomainRangePop(domain);
  return nullptr;
}

napi_value Start(napi_env env, napi_callback_info info) {
  uint32_t handle;
  void* data = nullptr;
  GILNVTX_ONE_UINT32(env, info, handle, "start", "message", &data);
  const StringEntry* entry = LookupString(env, handle, "start");
  if (entry == nullptr) return nullptr;
  nvtxEventAttributes_t attribs = RegisteredAttributes(entry->handle);
  uint32_t slot = RangeTable::Get().Start(entry->domain_handle, attribs, static_cast<EnvState*>(data)->serial);
  napi_value result = nullptr;
  napi_create_uint32(env, slot, &result);
  return result;
}

// Unknown, stale and already-ended ids are a no-op by design (ranges.h).
napi_value End(napi_env env, napi_callback_info info) {
  uint32_t slot;
  GILNVTX_ONE_UINT32(env, info, slot, "end", "range", nullptr);
  RangeTable::Get().End(slot);
  return nullptr;
}

napi_value Mark(napi_env env, napi_callback_info info) {
  uint32_t handle;
  GILNVTX_ONE_UINT32(env, info, handle, "mark", "message", nullptr);
  const StringEntry* entry = LookupString(env, handle, "mark");
  if (entry == nullptr) return nullptr;
  nvtxEventAttributes_t attribs = RegisteredAttributes(entry->handle);
  nvtxDomainMarkEx(entry->domain_handle, &attribs);
  return nullptr;
}

}  // namespace

napi_status DefineHotExports(napi_env env, napi_value exports, EnvState* state) {
  struct Entry {
    const char* name;
    napi_callback cb;
  };
  static const Entry entries[] = {
      {"noop", Noop}, {"push", Push}, {"pop", Pop}, {"start", Start}, {"end", End}, {"mark", Mark},
  };
  for (const Entry& e : entries) {
    napi_value fn;
    napi_status status = napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.cb, state, &fn);
    if (status != napi_ok) return status;
    status = napi_set_named_property(env, exports, e.name, fn);
    if (status != napi_ok) return status;
  }
  return napi_ok;
}

}  // namespace gilnvtx
