#include "hot.h"

#include <array>
#include <utility>

#include "check.h"
#include "ranges.h"
#include "registry.h"

namespace gilnvtx {

namespace {

// Reads the single uint32 argument. While a worker terminates napi calls fail with napi_cannot_run_js;
// then the call returns undefined without throwing into a dying environment.
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
  nvtxDomainRangePushEx(entry->domain_handle, &entry->attribs);
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
  uint32_t slot = RangeTable::Get().Start(entry->domain_handle, entry->attribs, static_cast<EnvState*>(data)->serial);
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
  nvtxDomainMarkEx(entry->domain_handle, &entry->attribs);
  return nullptr;
}

// Bound variants: everything they need arrives in `data`; a failure to read it (environment shutting down)
// is a silent no-op.
napi_value BoundPush(napi_env env, napi_callback_info info) {
  void* data;
  if (napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data) != napi_ok) return nullptr;
  const StringEntry* entry = static_cast<const StringEntry*>(data);
  nvtxDomainRangePushEx(entry->domain_handle, &entry->attribs);
  return nullptr;
}

napi_value BoundMark(napi_env env, napi_callback_info info) {
  void* data;
  if (napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data) != napi_ok) return nullptr;
  const StringEntry* entry = static_cast<const StringEntry*>(data);
  nvtxDomainMarkEx(entry->domain_handle, &entry->attribs);
  return nullptr;
}

napi_value BoundPop(napi_env env, napi_callback_info info) {
  void* data;
  if (napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data) != napi_ok) return nullptr;
  nvtxDomainRangePop(static_cast<nvtxDomainHandle_t>(data));
  return nullptr;
}

template <uint32_t N>
napi_value SpecializedPush(napi_env, napi_callback_info) {
  const StringEntry& entry = Registry::Get().StringAt(N);
  nvtxDomainRangePushEx(entry.domain_handle, &entry.attribs);
  return nullptr;
}

template <uint32_t N>
napi_value SpecializedMark(napi_env, napi_callback_info) {
  const StringEntry& entry = Registry::Get().StringAt(N);
  nvtxDomainMarkEx(entry.domain_handle, &entry.attribs);
  return nullptr;
}

template <uint32_t N>
napi_value SpecializedPop(napi_env, napi_callback_info) {
  nvtxDomainRangePop(Registry::Get().DomainAt(N));
  return nullptr;
}

template <template <uint32_t> class Kind, uint32_t... N>
constexpr std::array<napi_callback, sizeof...(N)> Table(std::integer_sequence<uint32_t, N...>) {
  return {{Kind<N>::fn...}};
}

template <uint32_t N>
struct PushAt {
  static constexpr napi_callback fn = SpecializedPush<N>;
};
template <uint32_t N>
struct MarkAt {
  static constexpr napi_callback fn = SpecializedMark<N>;
};
template <uint32_t N>
struct PopAt {
  static constexpr napi_callback fn = SpecializedPop<N>;
};

constexpr auto kPushTable = Table<PushAt>(std::make_integer_sequence<uint32_t, kSpecializedStrings>{});
constexpr auto kMarkTable = Table<MarkAt>(std::make_integer_sequence<uint32_t, kSpecializedStrings>{});
constexpr auto kPopTable = Table<PopAt>(std::make_integer_sequence<uint32_t, kSpecializedDomains>{});

napi_status MakeBound(napi_env env, const char* name, napi_callback specialized, napi_callback generic, void* data,
                      napi_value* out) {
  if (specialized != nullptr) return napi_create_function(env, name, NAPI_AUTO_LENGTH, specialized, nullptr, out);
  return napi_create_function(env, name, NAPI_AUTO_LENGTH, generic, data, out);
}

}  // namespace

napi_status MakeBoundPush(napi_env env, uint32_t handle, napi_value* out) {
  const StringEntry* entry = &Registry::Get().StringAt(handle);
  return MakeBound(env, "push", handle < kSpecializedStrings ? kPushTable[handle] : nullptr, BoundPush,
                   const_cast<StringEntry*>(entry), out);
}

napi_status MakeBoundMark(napi_env env, uint32_t handle, napi_value* out) {
  const StringEntry* entry = &Registry::Get().StringAt(handle);
  return MakeBound(env, "mark", handle < kSpecializedStrings ? kMarkTable[handle] : nullptr, BoundMark,
                   const_cast<StringEntry*>(entry), out);
}

napi_status MakeBoundPop(napi_env env, uint32_t domain, napi_value* out) {
  return MakeBound(env, "pop", domain < kSpecializedDomains ? kPopTable[domain] : nullptr, BoundPop,
                   Registry::Get().DomainAt(domain), out);
}

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
