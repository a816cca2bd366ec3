#include "ranges.h"

#include <atomic>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <new>

namespace gilnvtx {

namespace {
struct Slot {
  nvtxRangeId_t range;
  nvtxDomainHandle_t domain;
  uint32_t generation;  // 1..kGenerationMask; 0 only before first use
  uint32_t owner_env;
  bool open;
};
}  // namespace

struct RangeTable::Impl {
  std::mutex mutex;
  Slot* slots;             // calloc'd: untouched slots cost no memory
  uint32_t allocated = 1;  // index 0 is never used, so id 0 is never valid
  uint32_t open = 0;
  std::deque<uint32_t> free_slots;  // FIFO: the least recently freed slot is reused first
};

RangeTable::RangeTable() : impl_(new Impl()) {
  impl_->slots = static_cast<Slot*>(std::calloc(kSlotCapacity, sizeof(Slot)));
  if (impl_->slots == nullptr) throw std::bad_alloc();
}

RangeTable& RangeTable::Get() {
  // Hot calls come through here: after the first call this is one acquire load, not std::call_once
  // (libstdc++'s call_once sets thread-locals on every call).
  static std::atomic<RangeTable*> ready{nullptr};
  RangeTable* instance = ready.load(std::memory_order_acquire);
  if (instance != nullptr) return *instance;
  static std::once_flag once;
  static RangeTable* created = nullptr;  // never freed: see the header
  std::call_once(once, [] { created = new RangeTable(); });
  ready.store(created, std::memory_order_release);
  return *created;
}

uint32_t RangeTable::Start(nvtxDomainHandle_t domain, const nvtxEventAttributes_t& attribs, uint32_t owner_env) {
  // Started before the slot exists, so the lock never covers a call into the tool.
  nvtxRangeId_t range = nvtxDomainRangeStartEx(domain, &attribs);
  uint32_t index = 0;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (impl_->allocated < kSlotCapacity && (impl_->allocated <= kReuseDepth || impl_->free_slots.empty())) {
      index = impl_->allocated++;
    } else if (!impl_->free_slots.empty()) {
      index = impl_->free_slots.front();
      impl_->free_slots.pop_front();
    }
    if (index != 0) {
      Slot& slot = impl_->slots[index];
      slot.generation = slot.generation >= kGenerationMask ? 1 : slot.generation + 1;
      slot.domain = domain;
      slot.range = range;
      slot.owner_env = owner_env;
      slot.open = true;
      ++impl_->open;
      return (slot.generation << kIndexBits) | index;
    }
  }
  // Table full: a zero-length range is better than one no one can ever end.
  nvtxDomainRangeEnd(domain, range);
  return 0;
}

bool RangeTable::End(uint32_t id) {
  uint32_t index = id & (kSlotCapacity - 1);
  uint32_t generation = id >> kIndexBits;
  nvtxDomainHandle_t domain;
  nvtxRangeId_t range;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (index == 0 || index >= impl_->allocated) return false;
    Slot& slot = impl_->slots[index];
    if (!slot.open || slot.generation != generation) return false;
    slot.open = false;
    domain = slot.domain;
    range = slot.range;
    --impl_->open;
    impl_->free_slots.push_back(index);
  }
  nvtxDomainRangeEnd(domain, range);
  return true;
}

uint32_t RangeTable::EndAllOwnedBy(uint32_t owner_env) {
  uint32_t ended = 0;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  for (uint32_t index = 1; index < impl_->allocated; ++index) {
    Slot& slot = impl_->slots[index];
    if (!slot.open || slot.owner_env != owner_env) continue;
    slot.open = false;
    --impl_->open;
    impl_->free_slots.push_back(index);
    nvtxDomainRangeEnd(slot.domain, slot.range);
    ++ended;
  }
  return ended;
}

RangeStats RangeTable::Stats() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return RangeStats{impl_->open, impl_->allocated - 1};
}

}  // namespace gilnvtx
