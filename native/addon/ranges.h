// Start/end ranges as uint32 slots. nvtxRangeId_t is 64-bit; handing JS a BigInt costs an allocation per
// call, so JS gets a small slot id instead: (generation << kIndexBits) | index, always < 2^31 (a Smi).
// The table is process-wide so a range started in one worker can be ended in another. A generation counter
// per slot makes ending an unknown, already-ended or stale id a no-op that cannot end a newer range.
#pragma once

#include <nvtx3/nvToolsExt.h>

#include <cstdint>

namespace gilnvtx {

constexpr uint32_t kIndexBits = 18;                        // 262,143 ranges open at once
constexpr uint32_t kSlotCapacity = 1u << kIndexBits;
constexpr uint32_t kGenerationMask = (1u << 13) - 1;       // 13 bits: ids stay below 2^31
// Freed slots are reused only once this many exist, so a stale id would need
// kReuseDepth * 8191 starts in between to collide with a live one.
constexpr uint32_t kReuseDepth = 4096;

struct RangeStats {
  uint32_t open;
  uint32_t allocated;  // slots ever touched (high-water mark): bounded memory
};

class RangeTable {
 public:
  static RangeTable& Get();

  // Starts the range and returns its slot id, or 0 when the table is full (then nothing is started).
  uint32_t Start(nvtxDomainHandle_t domain, const nvtxEventAttributes_t& attribs, uint32_t owner_env);
  // Ends the range if `id` names an open one; false (and nothing happens) otherwise.
  bool End(uint32_t id);
  // Ends every range still owned by an environment that is going away, so tools see them closed.
  uint32_t EndAllOwnedBy(uint32_t owner_env);
  RangeStats Stats();

 private:
  RangeTable();
  struct Impl;
  Impl* impl_;
};

}  // namespace gilnvtx
