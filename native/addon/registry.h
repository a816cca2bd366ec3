// The process-wide NVTX registry: domains, registered strings and resources. NVTX state belongs to the
// process (the injected tool lives in it), not to one Node environment, so the main thread and every worker
// share it. It is created once (std::call_once), guarded by a mutex for writers, and never freed, so no
// static destructor can call into NVTX after the tool has shut down.
#pragma once

#include <nvtx3/nvToolsExt.h>

#include <atomic>
#include <cstdint>
#include <string>

namespace gilnvtx {

// Index 0 is the default (unnamed, NULL-handle) domain; named domains start at 1.
constexpr uint32_t kDefaultDomain = 0;
constexpr uint32_t kMaxDomains = 1u << 12;
// Handle 0 means "no registered string"; handles start at 1.
constexpr uint32_t kMaxStrings = 1u << 20;

struct StringEntry {
  nvtxStringHandle_t handle;  // NULL when no tool is attached; NVTX ignores it then anyway
  nvtxDomainHandle_t domain_handle;  // copied so a hot call needs one lookup
  nvtxEventAttributes_t attribs;     // prebuilt "registered message" attributes: hot calls pass a pointer
  uint32_t domain;
};

class Registry {
 public:
  static Registry& Get();

  // Same name -> same index, from any thread. Returns false when the domain table is full.
  bool Domain(const std::string& name, uint32_t* index);
  // Same (domain, text) -> same handle. Returns false when the domain is unknown or the table is full.
  bool RegisterString(uint32_t domain, const std::string& text, uint32_t* handle);
  bool NameCategory(uint32_t domain, uint32_t category, const std::string& name);
  // Category by name: the id already given to `name` in this domain, else the lowest id not yet named
  // there (named through NVTX now). Process-wide, so every worker agrees on the numbers. 0 = bad domain.
  uint32_t CategoryId(uint32_t domain, const std::string& name);

  // Resources get ids that are never reused, so destroying twice (or an unknown id) is a harmless no-op.
  uint32_t CreateResource(uint32_t domain, int32_t identifier_type, uint64_t identifier, const std::string& name);
  bool DestroyResource(uint32_t id);

  // Lock-free readers for the hot paths: indexes are published (release) only after their entry is written.
  bool DomainHandle(uint32_t index, nvtxDomainHandle_t* out) const {
    if (index >= domain_count_.load(std::memory_order_acquire)) return false;
    *out = domains_[index];
    return true;
  }
  const StringEntry* String(uint32_t handle) const {
    if (handle == 0 || handle >= string_count_.load(std::memory_order_acquire)) return nullptr;
    return &strings_[handle];
  }

  // Unchecked: for callers that validated `handle` when they were created (hot.cc's bound functions).
  const StringEntry& StringAt(uint32_t handle) const { return strings_[handle]; }
  nvtxDomainHandle_t DomainAt(uint32_t index) const { return domains_[index]; }

  uint32_t DomainCount() const { return domain_count_.load(std::memory_order_acquire); }
  uint32_t StringCount() const { return string_count_.load(std::memory_order_acquire) - 1; }
  uint32_t LiveResources() const;

 private:
  Registry();
  struct Impl;
  Impl* impl_;
  nvtxDomainHandle_t* domains_;
  StringEntry* strings_;
  std::atomic<uint32_t> domain_count_{1};
  std::atomic<uint32_t> string_count_{1};
};

}  // namespace gilnvtx
