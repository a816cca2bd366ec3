/*
 * Native unit test (ctest): loads the collector through NVTX's own injection path, makes NVTX calls,
 * then decodes this process's raw file and checks the records against raw_format.h.
 * Usage: raw_format_test <path of gil_nvtx_collector.so>
 */
#define _GNU_SOURCE
#include <nvtx3/nvToolsExt.h>

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "raw_format.h"

static int failures;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                     \
    }                                                                 \
  } while (0)

static const unsigned char *map_trace(const char *dir, size_t *size) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[4096] = "";
  while (d && (e = readdir(d)) != NULL) {
    if (strstr(e->d_name, ".gnvtx")) snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
  }
  if (d) closedir(d);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return NULL;
  struct stat st;
  fstat(fd, &st);
  *size = (size_t)st.st_size;
  void *p = mmap(NULL, *size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  char dir[] = "/tmp/gil-nvtx-raw-test-XXXXXX";
  if (!mkdtemp(dir)) return 2;
  setenv("NVTX_INJECTION64_PATH", argv[1], 1);
  setenv("GIL_NVTX_TRACE_DIR", dir, 1);

  /* Only the injection entry point is visible. */
  void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(lib != NULL);
  CHECK(lib && dlsym(lib, "InitializeInjectionNvtx2") != NULL);
  CHECK(lib && dlsym(lib, "rec_init") == NULL);
  CHECK(lib && dlsym(lib, "rec_reserve_slow") == NULL);

  nvtxDomainHandle_t gil = nvtxDomainCreateA("CPython GIL");
  nvtxStringHandle_t holding = nvtxDomainRegisterStringA(gil, "Holding GIL");
  nvtxEventAttributes_t a;
  memset(&a, 0, sizeof a);
  a.version = NVTX_VERSION;
  a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
  a.message.registered = holding;
  a.payloadType = NVTX_PAYLOAD_TYPE_UNSIGNED_INT64;
  a.payload.ullValue = 5;
  CHECK(nvtxDomainRangePushEx(gil, &a) == 0);
  CHECK(nvtxDomainRangePop(gil) == 0);
  nvtxRangeId_t id = nvtxDomainRangeStartEx(gil, &a);
  CHECK(id != 0 && (id & RAW_RANGE_HOLD_BIT)); /* a "Holding GIL" range in the GIL domain */

  size_t size = 0;
  const unsigned char *f = map_trace(dir, &size);
  CHECK(f != NULL);
  if (!f) return 1;
  /* While the hold is open, the watch table says so: this thread's tid and the hold's start. */
  const unsigned char *entry = NULL;
  for (unsigned i = 0; i < RAW_WATCH_ENTRIES; i++) {
    uint32_t tid;
    memcpy(&tid, f + RAW_WATCH_OFFSET + i * RAW_WATCH_ENTRY_SIZE + RAW_WATCH_OFF_TID, 4);
    if (tid == (uint32_t)syscall(SYS_gettid)) entry = f + RAW_WATCH_OFFSET + i * RAW_WATCH_ENTRY_SIZE;
  }
  CHECK(entry != NULL);
  uint64_t since = 0, holds = 0;
  if (entry) {
    memcpy(&since, entry + RAW_WATCH_OFF_HOLD_SINCE, 8);
    memcpy(&holds, entry + RAW_WATCH_OFF_HOLDS, 8);
  }
  CHECK(since != 0 && holds == 1);
  nvtxDomainRangeEnd(gil, id);
  if (entry) memcpy(&since, entry + RAW_WATCH_OFF_HOLD_SINCE, 8);
  CHECK(since == 0);
  nvtxMarkA("m");

  CHECK(memcmp(f, RAW_MAGIC, 8) == 0);
  uint32_t pid, chunk_size, version;
  uint64_t taken, allocated;
  memcpy(&pid, f + RAW_OFF_PID, 4);
  memcpy(&version, f + RAW_OFF_VERSION, 4);
  memcpy(&chunk_size, f + RAW_OFF_CHUNK_SIZE, 4);
  memcpy(&taken, f + RAW_OFF_CHUNKS_TAKEN, 8);
  memcpy(&allocated, f + RAW_OFF_ALLOCATED, 8);
  CHECK(pid == (uint32_t)getpid() && version == RAW_FORMAT_VERSION);
  CHECK(taken == 1); /* one thread, one chunk */
  CHECK(allocated >= RAW_HEADER_SIZE + chunk_size);

  /* map_trace mapped the file as it was before the end and the mark: map it again. */
  munmap((void *)f, size);
  f = map_trace(dir, &size);
  CHECK(f != NULL);
  if (!f) return 1;
  const unsigned char *chunk = f + RAW_HEADER_SIZE;
  uint32_t magic;
  memcpy(&magic, chunk, 4);
  CHECK(magic == RAW_CHUNK_MAGIC);
  const uint64_t *w = (const uint64_t *)(chunk + RAW_CHUNK_HEADER_SIZE);
  /* Every chunk opens with a calibration record: the time base of its compact events. */
  uint64_t start_ns;
  memcpy(&start_ns, f + RAW_OFF_START_NS, 8);
  CHECK((w[0] & 0xff) == RAW_CALIBRATION && ((w[0] >> 16) & 0xffff) == 3);
  CHECK(w[2] >= start_ns);
  uint64_t ts = w[1];
  w += 3;
  /* kind, and for compact events op and arg: templates 0 (the attributes) and 1 (the domain, for pop). */
  const struct { unsigned kind, op, arg; } expected[] = {
      {RAW_THREAD, 0, 0},          {RAW_DOMAIN, 0, 0},          {RAW_STRING, 0, 0},
      {RAW_TEMPLATE, 0, 0},        {RAW_COMPACT, RAW_OP_PUSH, 0}, {RAW_TEMPLATE, 0, 1},
      {RAW_COMPACT, RAW_OP_POP, 1}, {RAW_COMPACT, RAW_OP_START, 0}, {RAW_COMPACT, RAW_OP_END, 0},
      {RAW_MARK, 0, 0},
  };
  for (unsigned i = 0; i < sizeof expected / sizeof *expected; i++) {
    uint64_t h = w[0];
    unsigned kind = h & 0xff, flags = (h >> 8) & 0xff, words = (h >> 16) & 0xffff;
    CHECK(kind == expected[i].kind);
    if (kind == RAW_COMPACT) {
      CHECK(words == 1);
      CHECK((flags & 7) == expected[i].op && (flags >> 3) == expected[i].arg);
      ts += h >> 32; /* ticks since the previous timestamp */
    } else {
      CHECK(words >= 2);
      CHECK(w[1] >= ts); /* one thread's records are in time order */
      ts = w[1];
    }
    if (kind == RAW_TEMPLATE && expected[i].arg == 0) {
      CHECK(w[2] == 0);
      CHECK((flags & RAW_F_REGISTERED) != 0);
      CHECK(((flags & RAW_F_PAYLOAD_MASK) >> RAW_F_PAYLOAD_SHIFT) == NVTX_PAYLOAD_TYPE_UNSIGNED_INT64);
      CHECK(w[3] == 5 && w[4] == (uint64_t)(uintptr_t)holding);
    }
    if (kind == RAW_TEMPLATE && expected[i].arg == 1) CHECK(w[2] == 1 && flags == 0 && (uint32_t)(h >> 32) == 1);
    if (kind == RAW_MARK) CHECK((flags & RAW_F_INLINE) != 0 && (uint32_t)(h >> 32) == 0);
    w += words;
  }
  CHECK(w[0] == 0); /* nothing after the last record yet */

  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
