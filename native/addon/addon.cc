// The addon's entry point: one Nvtx instance per Node environment (main thread, each worker). It holds only
// what belongs to that environment; NVTX state is process-wide (registry.h, ranges.h).
#include <napi.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>

#include "args.h"
#include "attributes.h"
#include "check.h"
#include "hot.h"
#include "ranges.h"
#include "registry.h"

namespace gilnvtx {

namespace {

std::atomic<uint32_t> next_env_serial{1};

uint32_t CurrentOsThreadId() { return static_cast<uint32_t>(syscall(SYS_gettid)); }

}  // namespace

class Nvtx : public Napi::Addon<Nvtx> {
 public:
  Nvtx(Napi::Env env, Napi::Object exports) {
    state_.serial = next_env_serial.fetch_add(1);
    DefineAddon(exports, {
                             InstanceMethod("domainCreate", &Nvtx::DomainCreate),
                             InstanceMethod("registerString", &Nvtx::RegisterString),
                             InstanceMethod("bindPush", &Nvtx::BindPush),
                             InstanceMethod("bindMark", &Nvtx::BindMark),
                             InstanceMethod("bindPop", &Nvtx::BindPop),
                             InstanceMethod("pushEx", &Nvtx::PushEx),
                             InstanceMethod("startEx", &Nvtx::StartEx),
                             InstanceMethod("markEx", &Nvtx::MarkEx),
                             InstanceMethod("nameCategory", &Nvtx::NameCategory),
                             InstanceMethod("categoryId", &Nvtx::CategoryId),
                             InstanceMethod("resourceCreate", &Nvtx::ResourceCreate),
                             InstanceMethod("resourceDestroy", &Nvtx::ResourceDestroy),
                             InstanceMethod("nameThread", &Nvtx::NameThread),
                             InstanceMethod("threadId", &Nvtx::ThreadId),
                             InstanceMethod("stats", &Nvtx::Stats),
                         });
    if (DefineHotExports(env, exports, &state_) != napi_ok) {
      Napi::Error::New(env, "gil-nvtx: could not define the native exports").ThrowAsJavaScriptException();
    }
  }

  // Runs when the environment tears down (worker exit or terminate, process exit). Ranges this environment
  // started and nobody ended are closed so tools do not see them run to the end of the trace; nothing here
  // touches JS.
  ~Nvtx() { RangeTable::Get().EndAllOwnedBy(state_.serial); }

 private:
  Napi::Value DomainCreate(const Napi::CallbackInfo& info) {
    std::string name;
    if (!ArgString(info, 0, "domainCreate", "name", &name)) return {};
    uint32_t index;
    if (!Registry::Get().Domain(name, &index)) {
      // Worded as lib/nvtx/noop.ts words it: the same mistake reads the same with or without a tool.
      ThrowArgError(info.Env(), false, "domain", 0, "name", "new only while fewer than 4095 named domains exist");
      return {};
    }
    return Napi::Number::New(info.Env(), index);
  }

  Napi::Value RegisterString(const Napi::CallbackInfo& info) {
    uint32_t domain;
    std::string text;
    if (!ArgUint32(info, 0, "registerString", "domain", &domain)) return {};
    if (!ArgString(info, 1, "registerString", "text", &text)) return {};
    uint32_t handle;
    if (!Registry::Get().RegisterString(domain, text, &handle)) {
      if (domain >= Registry::Get().DomainCount()) {
        ThrowArgError(info.Env(), false, "registerString", 0, "domain", "a domain index from domainCreate()");
      } else {
        ThrowArgError(info.Env(), false, "registerString", 0, "text", "new only while fewer than 1048575 strings are registered");
      }
      return {};
    }
    return Napi::Number::New(info.Env(), handle);
  }

  // Zero-argument push/mark functions for one registered string, and pop for one domain (hot.h).
  Napi::Value BindPush(const Napi::CallbackInfo& info) { return BindString(info, "bindPush", MakeBoundPush); }
  Napi::Value BindMark(const Napi::CallbackInfo& info) { return BindString(info, "bindMark", MakeBoundMark); }

  Napi::Value BindString(const Napi::CallbackInfo& info, const char* fn,
                         napi_status (*make)(napi_env, uint32_t, napi_value*)) {
    uint32_t handle;
    if (!ArgUint32(info, 0, fn, "message", &handle)) return {};
    const StringEntry* entry = Registry::Get().String(handle);
    if (entry == nullptr) {
      ThrowArgError(info.Env(), false, fn, 0, "message", "a handle from registerString()");
      return {};
    }
    napi_value out = nullptr;
    make(info.Env(), handle, &out);
    return Napi::Value(info.Env(), out);
  }

  Napi::Value BindPop(const Napi::CallbackInfo& info) {
    uint32_t index;
    nvtxDomainHandle_t domain;
    if (!ArgUint32(info, 0, "bindPop", "domain", &index)) return {};
    if (!Registry::Get().DomainHandle(index, &domain)) {
      ThrowArgError(info.Env(), false, "bindPop", 0, "domain", "a domain index from domainCreate()");
      return {};
    }
    napi_value out = nullptr;
    MakeBoundPop(info.Env(), index, &out);
    return Napi::Value(info.Env(), out);
  }

  Napi::Value PushEx(const Napi::CallbackInfo& info) {
    ParsedEvent event;
    if (!ParseEvent(info, "pushEx", &event)) return {};
    nvtxDomainRangePushEx(event.domain, &event.attribs);
    return {};
  }

  Napi::Value StartEx(const Napi::CallbackInfo& info) {
    ParsedEvent event;
    if (!ParseEvent(info, "startEx", &event)) return {};
    return Napi::Number::New(info.Env(), RangeTable::Get().Start(event.domain, event.attribs, state_.serial));
  }

  Napi::Value MarkEx(const Napi::CallbackInfo& info) {
    ParsedEvent event;
    if (!ParseEvent(info, "markEx", &event)) return {};
    nvtxDomainMarkEx(event.domain, &event.attribs);
    return {};
  }

  Napi::Value NameCategory(const Napi::CallbackInfo& info) {
    uint32_t domain, category;
    std::string name;
    if (!ArgUint32(info, 0, "nameCategory", "domain", &domain)) return {};
    if (!ArgUint32(info, 1, "nameCategory", "id", &category)) return {};
    if (!ArgString(info, 2, "nameCategory", "name", &name)) return {};
    if (!Registry::Get().NameCategory(domain, category, name)) {
      ThrowArgError(info.Env(), false, "nameCategory", 0, "domain", "a domain index from domainCreate()");
    }
    return {};
  }

  Napi::Value CategoryId(const Napi::CallbackInfo& info) {
    uint32_t domain;
    std::string name;
    if (!ArgUint32(info, 0, "categoryId", "domain", &domain)) return {};
    if (!ArgString(info, 1, "categoryId", "name", &name)) return {};
    uint32_t id = Registry::Get().CategoryId(domain, name);
    if (id == 0) {
      ThrowArgError(info.Env(), false, "categoryId", 0, "domain", "a domain index from domainCreate()");
      return {};
    }
    return Napi::Number::New(info.Env(), id);
  }

  Napi::Value ResourceCreate(const Napi::CallbackInfo& info) {
    uint32_t domain, kind;
    uint64_t identifier;
    std::string name;
    if (!ArgUint32(info, 0, "resourceCreate", "domain", &domain)) return {};
    if (!ArgUint32(info, 1, "resourceCreate", "kind", &kind)) return {};
    if (!ArgUint64(info, 2, "resourceCreate", "identifier", &identifier)) return {};
    if (!ArgString(info, 3, "resourceCreate", "name", &name)) return {};
    if (kind != NVTX_RESOURCE_TYPE_GENERIC_POINTER && kind != NVTX_RESOURCE_TYPE_GENERIC_HANDLE) {
      ThrowArgError(info.Env(), false, "resourceCreate", 1, "kind", "a generic pointer or handle resource type");
      return {};
    }
    uint32_t id = Registry::Get().CreateResource(domain, static_cast<int32_t>(kind), identifier, name);
    if (id == 0) {
      ThrowArgError(info.Env(), false, "resourceCreate", 0, "domain", "a domain index from domainCreate()");
      return {};
    }
    return Napi::Number::New(info.Env(), id);
  }

  // Destroying twice or an unknown id returns false and does nothing.
  Napi::Value ResourceDestroy(const Napi::CallbackInfo& info) {
    uint32_t id;
    if (!ArgUint32(info, 0, "resourceDestroy", "resource", &id)) return {};
    return Napi::Boolean::New(info.Env(), Registry::Get().DestroyResource(id));
  }

  Napi::Value NameThread(const Napi::CallbackInfo& info) {
    std::string name;
    if (!ArgString(info, 0, "nameThread", "name", &name)) return {};
    uint32_t tid = CurrentOsThreadId();
    nvtxNameOsThreadA(tid, name.c_str());
    return Napi::Number::New(info.Env(), tid);
  }

  Napi::Value ThreadId(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), CurrentOsThreadId()); }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Registry& registry = Registry::Get();
    RangeStats ranges = RangeTable::Get().Stats();
    Napi::Object out = Napi::Object::New(env);
    out.Set("openRanges", ranges.open);
    out.Set("rangeSlots", ranges.allocated);
    out.Set("rangeSlotCapacity", kSlotCapacity - 1);
    out.Set("domains", registry.DomainCount() - 1);
    out.Set("strings", registry.StringCount());
    out.Set("resources", registry.LiveResources());
    out.Set("envSerial", state_.serial);
    return out;
  }

  EnvState state_;
};

}  // namespace gilnvtx

using gilnvtx::Nvtx;
NODE_API_ADDON(Nvtx)
