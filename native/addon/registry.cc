#include "registry.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>

namespace gilnvtx {

struct Registry::Impl {
  std::mutex mutex;
  std::unordered_map<std::string, uint32_t> domain_by_name;
  // Keys double as the registered text, so the pointer NVTX was given stays valid for the process lifetime.
  std::unordered_map<uint64_t, std::unordered_map<std::string, uint32_t>> strings_by_domain;
  struct Categories {
    std::unordered_map<std::string, uint32_t> by_name;
    std::unordered_map<uint32_t, std::string> by_id;
  };
  std::unordered_map<uint32_t, Categories> categories;
  std::unordered_map<uint32_t, nvtxResourceHandle_t> resources;
  uint32_t next_resource = 1;
};

Registry::Registry() : impl_(new Impl()) {
  // calloc: the tables are large but mostly untouched, so only the pages in use cost memory.
  domains_ = static_cast<nvtxDomainHandle_t*>(std::calloc(kMaxDomains, sizeof(nvtxDomainHandle_t)));
  strings_ = static_cast<StringEntry*>(std::calloc(kMaxStrings, sizeof(StringEntry)));
  if (domains_ == nullptr || strings_ == nullptr) throw std::bad_alloc();
  domains_[kDefaultDomain] = nullptr;
}

Registry& Registry::Get() {
  // Hot calls come through here: after the first call this is one acquire load, not std::call_once
  // (libstdc++'s call_once sets thread-locals on every call).
  static std::atomic<Registry*> ready{nullptr};
  Registry* instance = ready.load(std::memory_order_acquire);
  if (instance != nullptr) return *instance;
  static std::once_flag once;
  static Registry* created = nullptr;  // never freed: see the header
  std::call_once(once, [] { created = new Registry(); });
  ready.store(created, std::memory_order_release);
  return *created;
}

bool Registry::Domain(const std::string& name, uint32_t* index) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  auto found = impl_->domain_by_name.find(name);
  if (found != impl_->domain_by_name.end()) {
    *index = found->second;
    return true;
  }
  uint32_t next = domain_count_.load(std::memory_order_relaxed);
  if (next >= kMaxDomains) return false;
  auto inserted = impl_->domain_by_name.emplace(name, next).first;
  domains_[next] = nvtxDomainCreateA(inserted->first.c_str());
  domain_count_.store(next + 1, std::memory_order_release);
  *index = next;
  return true;
}

bool Registry::RegisterString(uint32_t domain, const std::string& text, uint32_t* handle) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (domain >= domain_count_.load(std::memory_order_relaxed)) return false;
  auto& table = impl_->strings_by_domain[domain];
  auto found = table.find(text);
  if (found != table.end()) {
    *handle = found->second;
    return true;
  }
  uint32_t next = string_count_.load(std::memory_order_relaxed);
  if (next >= kMaxStrings) return false;
  auto inserted = table.emplace(text, next).first;
  strings_[next].handle = nvtxDomainRegisterStringA(domains_[domain], inserted->first.c_str());
  strings_[next].domain_handle = domains_[domain];
  nvtxEventAttributes_t& attribs = strings_[next].attribs;
  attribs.version = NVTX_VERSION;
  attribs.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  attribs.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
  attribs.message.registered = strings_[next].handle;
  strings_[next].domain = domain;
  string_count_.store(next + 1, std::memory_order_release);
  *handle = next;
  return true;
}

bool Registry::NameCategory(uint32_t domain, uint32_t category, const std::string& name) {
  nvtxDomainHandle_t handle;
  if (!DomainHandle(domain, &handle)) return false;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    auto& table = impl_->categories[domain];
    auto previous = table.by_id.find(category);
    if (previous != table.by_id.end()) table.by_name.erase(previous->second);
    table.by_id[category] = name;
    table.by_name[name] = category;
  }
  nvtxDomainNameCategoryA(handle, category, name.c_str());
  return true;
}

uint32_t Registry::CategoryId(uint32_t domain, const std::string& name) {
  nvtxDomainHandle_t handle;
  if (!DomainHandle(domain, &handle)) return 0;
  uint32_t id = 1;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    auto& table = impl_->categories[domain];
    auto found = table.by_name.find(name);
    if (found != table.by_name.end()) return found->second;
    while (table.by_id.count(id) != 0) ++id;
    table.by_id[id] = name;
    table.by_name[name] = id;
    // Named under the lock so no event can carry the id before the tool knows its name.
    nvtxDomainNameCategoryA(handle, id, name.c_str());
  }
  return id;
}

uint32_t Registry::CreateResource(uint32_t domain, int32_t identifier_type, uint64_t identifier,
                                  const std::string& name) {
  nvtxDomainHandle_t handle;
  if (!DomainHandle(domain, &handle)) return 0;
  nvtxResourceAttributes_t attribs = {};
  attribs.version = NVTX_VERSION;
  attribs.size = NVTX_RESOURCE_ATTRIB_STRUCT_SIZE;
  attribs.identifierType = identifier_type;
  attribs.identifier.ullValue = identifier;
  attribs.messageType = NVTX_MESSAGE_TYPE_ASCII;
  attribs.message.ascii = name.c_str();  // NVTX copies what it keeps
  nvtxResourceHandle_t resource = nvtxDomainResourceCreate(handle, &attribs);
  std::lock_guard<std::mutex> lock(impl_->mutex);
  uint32_t id = impl_->next_resource++;
  if (impl_->next_resource == 0) impl_->next_resource = 1;
  impl_->resources.emplace(id, resource);
  return id;
}

bool Registry::DestroyResource(uint32_t id) {
  nvtxResourceHandle_t resource;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    auto found = impl_->resources.find(id);
    if (found == impl_->resources.end()) return false;
    resource = found->second;
    impl_->resources.erase(found);
  }
  nvtxDomainResourceDestroy(resource);
  return true;
}

uint32_t Registry::LiveResources() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return static_cast<uint32_t>(impl_->resources.size());
}

}  // namespace gilnvtx
