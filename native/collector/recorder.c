/* Trace file, chunk allocation, thread registration, fork and exit handling (raw_format.h). */
#define _GNU_SOURCE
#include "recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

__thread struct rec_thread rec_tls;
volatile int rec_enabled;
int rec_tsc;
uint64_t rec_ns_mult = 1ull << 32;
uint64_t rec_long_hold_ns = UINT64_MAX;
/* Calibration pairs taken when the collector first attached; a fork child inherits and restates them. */
static uint64_t g_cal0_ticks, g_cal0_ns, g_cal_ticks, g_cal_ns;

/* g_lock guards the definitions; g_grow_lock the file's growth (mapping windows, allocating space).
 * A thread holding g_lock may take g_grow_lock (a definition can fill a chunk), never the reverse. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_grow_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_fd = -1;
static unsigned char *g_header; /* mapped file header (RAW_HEADER_SIZE bytes) */
static uint32_t g_chunk_size;   /* bytes, a power of two that divides WINDOW_BYTES */
static uint32_t g_next_slot;
static pthread_key_t g_thread_key;
static char g_dir[PATH_MAX];
static int g_warned;
static int g_child_pending; /* fork child: its own file is created at its first event */
static int g_need_definitions;

/*
 * Chunks live in windows: fixed 4 MiB stretches of the file mapped once, so a thread moves to its
 * next chunk without a system call. Mapping past the end of the file is allowed; only pages that were
 * allocated (RAW_OFF_ALLOCATED) are ever touched. The thread that finishes the last chunk of a window
 * unmaps it, so the pages a long trace wrote do not stay in the process's resident set: one mmap and
 * one munmap per 4 MiB of trace.
 */
#define WINDOW_BYTES (4ull << 20)
#define MAX_WINDOWS 65536u
#define WINDOW_GONE ((unsigned char *)1) /* unmapped: every chunk in it is finished */
static unsigned char *g_windows[MAX_WINDOWS];
static uint32_t g_window_done[MAX_WINDOWS]; /* chunks of each window that their thread has left */
/* Space a thread allocates for itself when the watchdog has not allocated ahead (or there is none). */
#define SELF_AHEAD_CHUNKS 4u

/*
 * Ring mode (raw_format.h, GIL_NVTX_RING_CHUNKS): the chunk area is allocated and mapped once, whole,
 * when the file is created; threads reuse its chunks in turn, so disk and memory stay fixed for the
 * whole run. Definitions go to the definition chunks (g_lock), which are never reused.
 */
static uint32_t g_ring;            /* ring chunks, 0 = the file grows */
static unsigned char *g_ring_base; /* the mapped chunk area: definition chunks, then the ring */
static uint64_t g_ring_bytes;
static uint64_t *g_def_pos, *g_def_end; /* the definition chunk being filled */
static uint32_t g_def_chunks;           /* definition chunks begun */
/* Each thread's OS name, by watch entry: a ring chunk restates it without reading /proc again. */
#define COMM_MAX 16u
static char g_comm[RAW_WATCH_ENTRIES][COMM_MAX];

struct definition {
  unsigned kind;
  uint32_t domain;
  uint64_t value;
  char *text;
};
static struct definition *g_defs;
static size_t g_defs_len, g_defs_cap;

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint64_t *header_u64(unsigned off) { return (uint64_t *)(g_header + off); }

static void warn_once(const char *what, int err) {
  if (g_warned) return;
  g_warned = 1;
  fprintf(stderr,
          "gil-nvtx collector: %s in '%s': %s. Tracing is off for this process (pid %d); the program "
          "runs on. Set GIL_NVTX_TRACE_DIR to a writable folder.\n",
          what, g_dir, strerror(err), (int)getpid());
}

/* GIL_NVTX_CHUNK_KB (16 KiB to 4 MiB, default 64 KiB), rounded up to a power of two so that chunks
 * tile the windows exactly. */
static uint32_t env_chunk_size(void) {
  const char *s = getenv("GIL_NVTX_CHUNK_KB");
  long kb = s ? strtol(s, NULL, 10) : 0;
  if (kb < 16 || kb > 4096) kb = 64;
  uint32_t bytes = 16384;
  while (bytes < (uint64_t)kb * 1024u) bytes <<= 1;
  return bytes;
}

/* GIL_NVTX_RING_CHUNKS: unset or 0 = a growing file; else ring mode with at least RAW_RING_MIN_CHUNKS. */
static uint32_t env_ring_chunks(void) {
  const char *s = getenv("GIL_NVTX_RING_CHUNKS");
  long n = s ? strtol(s, NULL, 10) : 0;
  if (n <= 0) return 0;
  if (n < (long)RAW_RING_MIN_CHUNKS) n = RAW_RING_MIN_CHUNKS;
  if (n > (1l << 20)) n = 1l << 20;
  return (uint32_t)n;
}

/*
 * TSC timestamps need a TSC that ticks at a constant rate in every power state (CPUID 0x80000007 EDX
 * bit 8, "invariant TSC") and that the kernel still trusts across CPUs (it drops "tsc" from the
 * available clocksources when the CPUs' TSCs disagree). GIL_NVTX_COLLECTOR_CLOCK=monotonic|tsc
 * overrides the choice (tests, bench).
 */
static int choose_tsc(void) {
#if defined(__x86_64__)
  const char *force = getenv("GIL_NVTX_COLLECTOR_CLOCK");
  if (force && !strcmp(force, "monotonic")) return 0;
  if (force && !strcmp(force, "tsc")) return 1;
  unsigned a, b, c, d;
  if (!__get_cpuid(0x80000000u, &a, &b, &c, &d) || a < 0x80000007u) return 0;
  __get_cpuid(0x80000007u, &a, &b, &c, &d);
  if (!(d & (1u << 8))) return 0;
  int fd = open("/sys/devices/system/clocksource/clocksource0/available_clocksource", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char list[512];
    ssize_t n = read(fd, list, sizeof list - 1);
    close(fd);
    if (n > 0) {
      list[n] = 0;
      int found = 0;
      for (char *tok = strtok(list, " \n"); tok; tok = strtok(NULL, " \n")) found |= !strcmp(tok, "tsc");
      if (!found) return 0;
    }
  }
  return 1;
#else
  return 0;
#endif
}

/* A (ticks, CLOCK_MONOTONIC ns) pair: the clock read between two tick reads, the narrowest of a few
 * tries (a preemption between the reads would skew the pair), ticks = their midpoint. */
static void calibration_pair(uint64_t *ticks, uint64_t *ns) {
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 4; i++) {
    uint64_t t0 = rec_now();
    uint64_t n = rec_clock_ns(CLOCK_MONOTONIC);
    uint64_t t1 = rec_now();
    if (t1 - t0 < best) {
      best = t1 - t0;
      *ticks = t0 + (t1 - t0) / 2;
      *ns = n;
    }
    if (!rec_tsc) break;
  }
}

static size_t read_cmdline(unsigned char *out, size_t cap) {
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, out, cap);
  close(fd);
  return n > 0 ? (size_t)n : 0;
}

/* Creates <dir>/<pid>-<start ns>.gnvtx (pid alone is not unique: exec keeps it) and maps its header. */
static int open_trace_file(uint32_t forked_from) {
  uint64_t start, start_ticks;
  calibration_pair(&start_ticks, &start);
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%d-%llu" RAW_FILE_SUFFIX, g_dir, (int)getpid(), (unsigned long long)start);
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    warn_once("cannot create the trace file", errno);
    return 0;
  }
  int err = posix_fallocate(fd, 0, RAW_HEADER_SIZE);
  void *h = err ? MAP_FAILED : mmap(NULL, RAW_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (h == MAP_FAILED) {
    warn_once("cannot size the trace file", err ? err : errno);
    close(fd);
    unlink(path);
    return 0;
  }
  if (g_ring) {
    /* All the disk the process will ever use, up front: nothing can fail (or make a system call) later. */
    uint64_t bytes = (uint64_t)(RAW_RING_DEF_CHUNKS + g_ring) * g_chunk_size;
    err = posix_fallocate(fd, RAW_HEADER_SIZE, (off_t)bytes);
    void *area = err ? MAP_FAILED : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, RAW_HEADER_SIZE);
    if (area == MAP_FAILED) {
      warn_once("cannot allocate the trace ring", err ? err : errno);
      munmap(h, RAW_HEADER_SIZE);
      close(fd);
      unlink(path);
      return 0;
    }
    g_ring_base = area;
    g_ring_bytes = bytes;
    g_def_pos = g_def_end = NULL;
    g_def_chunks = 0;
  }
  unsigned char *hdr = h;
  memcpy(hdr + RAW_OFF_MAGIC, RAW_MAGIC, 8);
  put_u32(hdr + RAW_OFF_VERSION, RAW_FORMAT_VERSION);
  put_u32(hdr + RAW_OFF_CHUNK_SIZE, g_chunk_size);
  put_u32(hdr + RAW_OFF_PID, (uint32_t)getpid());
  put_u32(hdr + RAW_OFF_PPID, (uint32_t)getppid());
  put_u64(hdr + RAW_OFF_START_NS, start);
  put_u64(hdr + RAW_OFF_START_REALTIME, rec_clock_ns(CLOCK_REALTIME));
  put_u32(hdr + RAW_OFF_FORKED_FROM, forked_from);
  put_u32(hdr + RAW_OFF_TICK_SOURCE, rec_tsc ? RAW_TICKS_TSC : RAW_TICKS_NS);
  if (rec_tsc) {
    put_u64(hdr + RAW_OFF_START_TICKS, start_ticks);
    put_u64(hdr + RAW_OFF_CAL0_TICKS, g_cal0_ticks);
    put_u64(hdr + RAW_OFF_CAL0_NS, g_cal0_ns);
    put_u64(hdr + RAW_OFF_CAL_TICKS, g_cal_ticks);
    put_u64(hdr + RAW_OFF_CAL_NS, g_cal_ns);
  }
  put_u64(hdr + RAW_OFF_ALLOCATED, RAW_HEADER_SIZE + g_ring_bytes);
  put_u32(hdr + RAW_OFF_RING_CHUNKS, g_ring);
  struct stat exe;
  if (stat("/proc/self/exe", &exe) == 0) {
    put_u64(hdr + RAW_OFF_EXE_DEV, (uint64_t)exe.st_dev);
    put_u64(hdr + RAW_OFF_EXE_INO, (uint64_t)exe.st_ino);
  }
  put_u32(hdr + RAW_OFF_WATCH_COUNT, RAW_WATCH_ENTRIES);
  put_u64(hdr + RAW_OFF_LONG_HOLD_NS, rec_long_hold_ns);
  size_t n = read_cmdline(hdr + RAW_OFF_CMDLINE, RAW_CMDLINE_MAX);
  put_u32(hdr + RAW_OFF_CMDLINE_LEN, (uint32_t)n);
  /* Under Yama's ptrace_scope=1 only an ancestor may read /proc/<pid>/task/<tid>/syscall; the watchdog
   * is this program's sibling. Harmless (EINVAL) where Yama is absent. */
  const char *watchdog = getenv("GIL_NVTX_WATCHDOG_PID");
  if (watchdog && *watchdog) (void)prctl(PR_SET_PTRACER, strtoul(watchdog, NULL, 10), 0, 0, 0);
  g_fd = fd;
  /* Published last: the watchdog maps files it finds in the folder and checks the magic first. */
  __atomic_store_n(&g_header, hdr, __ATOMIC_RELEASE);
  return 1;
}

static void write_thread_record(struct rec_thread *t);

/* A calibration record in t's chunk, when it has room. In a TSC file it adds a pair to the mapping
 * from ticks to ns; in either it gives compact events the timestamp they count from. */
static void write_calibration(struct rec_thread *t) {
  if (!t->pos || (size_t)(t->end - t->pos) < 3) return;
  uint64_t *r = t->pos;
  t->pos += 3;
  uint64_t ticks, ns;
  calibration_pair(&ticks, &ns);
  rec_stamp(t, r, ticks);
  r[2] = ns;
  rec_commit(r, RAW_CALIBRATION, 0, 3, 0);
}

static void on_exit_handler(void) {
  if (rec_enabled && rec_tls.slot && rec_tls.pos) write_thread_record(&rec_tls);
  if (g_header) {
    uint64_t ticks, ns;
    calibration_pair(&ticks, &ns);
    if (rec_tsc) put_u64(g_header + RAW_OFF_END_TICKS, ticks);
    put_u64(g_header + RAW_OFF_END_NS, ns);
  }
}

static void release_watch(struct rec_thread *t) {
  if (!t->watch) return;
  __atomic_store_n((uint64_t *)(t->watch + RAW_WATCH_OFF_HOLD_SINCE), 0, __ATOMIC_RELAXED);
  __atomic_store_n((uint64_t *)(t->watch + RAW_WATCH_OFF_WAIT_SINCE), 0, __ATOMIC_RELAXED);
  __atomic_store_n((uint32_t *)(t->watch + RAW_WATCH_OFF_TID), 0, __ATOMIC_RELEASE);
  t->watch = NULL;
}

/* The thread's metrics entries go back to the table with their counts: the next thread of the same
 * GIL adds to them, so the GIL's totals never go down. */
static void release_metrics(struct rec_thread *t) {
  for (unsigned i = 0; g_header && t->tid && i < RAW_METRICS_ENTRIES; i++) {
    uint32_t *owner = (uint32_t *)(g_header + RAW_METRICS_OFFSET + i * RAW_METRICS_ENTRY_SIZE + RAW_METRICS_OFF_OWNER);
    uint32_t mine = t->tid;
    __atomic_compare_exchange_n(owner, &mine, 0, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
  }
  t->metrics = t->hold_metrics = NULL;
  t->metrics_gil = 0;
}

void rec_metrics_select(struct rec_thread *t, uint64_t gil) {
  t->metrics = NULL;
  t->metrics_gil = gil + 1; /* a full table is not searched again until the GIL changes */
  if (!g_header || !t->tid) return;
  unsigned char *table = g_header + RAW_METRICS_OFFSET, *unused = NULL;
  /* The thread's own entry for this GIL, else one of the GIL's that no thread writes, else a new one. */
  for (int pass = 0; pass < 2; pass++) {
    for (unsigned i = 0; i < RAW_METRICS_ENTRIES; i++) {
      unsigned char *m = table + i * RAW_METRICS_ENTRY_SIZE;
      if (!__atomic_load_n((uint32_t *)(m + RAW_METRICS_OFF_USED), __ATOMIC_ACQUIRE)) {
        if (!unused) unused = m;
        continue;
      }
      if (__atomic_load_n((uint64_t *)(m + RAW_METRICS_OFF_GIL), __ATOMIC_RELAXED) != gil) continue;
      uint32_t *owner = (uint32_t *)(m + RAW_METRICS_OFF_OWNER);
      uint32_t want = pass == 0 ? t->tid : 0;
      if (pass == 0 ? __atomic_load_n(owner, __ATOMIC_ACQUIRE) == want
                    : __atomic_compare_exchange_n(owner, &want, t->tid, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        t->metrics = m;
        return;
      }
    }
  }
  /* A new entry: claimed by its owner word before it is labelled, so two threads never share it. */
  for (unsigned char *m = unused; m && m < table + RAW_METRICS_ENTRIES * RAW_METRICS_ENTRY_SIZE; m += RAW_METRICS_ENTRY_SIZE) {
    uint32_t free_ = 0;
    if (__atomic_load_n((uint32_t *)(m + RAW_METRICS_OFF_USED), __ATOMIC_ACQUIRE)) continue;
    if (!__atomic_compare_exchange_n((uint32_t *)(m + RAW_METRICS_OFF_OWNER), &free_, t->tid, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) continue;
    __atomic_store_n((uint64_t *)(m + RAW_METRICS_OFF_GIL), gil, __ATOMIC_RELAXED);
    __atomic_store_n((uint32_t *)(m + RAW_METRICS_OFF_USED), 1, __ATOMIC_RELEASE);
    t->metrics = m;
    return;
  }
}

static void finish_chunk(struct rec_thread *t);

static void on_thread_exit(void *arg) {
  struct rec_thread *t = arg;
  if (rec_enabled && t->pos) {
    write_thread_record(t);
    write_calibration(t);
  }
  finish_chunk(t);
  if (t->template && !t->watch) free(t->template);
  release_watch(t);
  release_metrics(t);
  /* Events after this (from later TLS destructors) register the thread again. */
  memset(t, 0, sizeof *t);
}

static void atfork_prepare(void) {
  pthread_mutex_lock(&g_lock);
  pthread_mutex_lock(&g_grow_lock);
}
static void atfork_parent(void) {
  pthread_mutex_unlock(&g_grow_lock);
  pthread_mutex_unlock(&g_lock);
}

/*
 * The child inherits the parent's shared mappings: writing to them would scribble on the parent's
 * file. Drop them all, start a file of its own, and restate the definitions its events refer to.
 */
static void atfork_child(void) {
  pthread_mutex_init(&g_lock, NULL);
  pthread_mutex_init(&g_grow_lock, NULL);
  for (unsigned w = 0; w < MAX_WINDOWS; w++) {
    if (g_windows[w] && g_windows[w] != WINDOW_GONE) munmap(g_windows[w], WINDOW_BYTES);
    g_windows[w] = NULL;
    g_window_done[w] = 0;
  }
  memset(&rec_tls, 0, sizeof rec_tls);
  if (g_ring_base) munmap(g_ring_base, g_ring_bytes);
  g_ring_base = NULL;
  g_ring_bytes = 0;
  if (g_header) munmap(g_header, RAW_HEADER_SIZE);
  g_header = NULL;
  if (g_fd >= 0) close(g_fd);
  g_fd = -1;
  g_next_slot = 0;
  /* Lazily: a child that only execs (subprocess) never records and needs no file. */
  g_child_pending = rec_enabled;
}

int rec_init(void) {
  const char *dir = getenv("GIL_NVTX_TRACE_DIR");
  if (!dir || !*dir) dir = "gil-nvtx-trace";
  snprintf(g_dir, sizeof g_dir, "%s", dir);
  g_chunk_size = env_chunk_size();
  g_ring = env_ring_chunks();
  if (mkdir(g_dir, 0755) != 0 && errno != EEXIST) {
    warn_once("cannot create the trace folder", errno);
    return 0;
  }
  rec_tsc = choose_tsc();
  if (rec_tsc) {
    /* Two pairs ~2 ms apart: a slope for processes killed before they write any other pair. */
    calibration_pair(&g_cal0_ticks, &g_cal0_ns);
    struct timespec pause = {0, 2000000};
    while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
    }
    calibration_pair(&g_cal_ticks, &g_cal_ns);
    if (g_cal_ticks > g_cal0_ticks) rec_ns_mult = (uint64_t)(((unsigned __int128)(g_cal_ns - g_cal0_ns) << 32) / (g_cal_ticks - g_cal0_ticks));
  }
  /* GIL_NVTX_LONG_HOLD_MS (set by `gil-nvtx record` to its --trigger-hold-ms): unset or 0 = none. */
  const char *long_ms = getenv("GIL_NVTX_LONG_HOLD_MS");
  double ms = long_ms ? strtod(long_ms, NULL) : 0;
  rec_long_hold_ns = ms > 0 && ms < 1e12 ? (uint64_t)(ms * 1e6) : UINT64_MAX;
  if (!open_trace_file(0)) return 0;
  pthread_key_create(&g_thread_key, on_thread_exit);
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
  atexit(on_exit_handler);
  rec_enabled = 1;
  return 1;
}

static void write_definitions_locked(void);

/* The window holding chunk-area offset `off`, mapped on first use. */
static unsigned char *window_for(uint64_t off) {
  uint64_t w = off / WINDOW_BYTES;
  if (w >= MAX_WINDOWS) return NULL;
  unsigned char *base = __atomic_load_n(&g_windows[w], __ATOMIC_ACQUIRE);
  if (base) return base;
  pthread_mutex_lock(&g_grow_lock);
  base = g_windows[w];
  if (!base) {
    void *p = mmap(NULL, WINDOW_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, g_fd, (off_t)(RAW_HEADER_SIZE + w * WINDOW_BYTES));
    if (p == MAP_FAILED) warn_once("cannot map the trace file", errno);
    else __atomic_store_n(&g_windows[w], (base = p), __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&g_grow_lock);
  return base;
}

/* Makes sure the file has disk blocks up to `need` bytes (the watchdog usually did it already). */
static int allocated_to(uint64_t need) {
  uint64_t *allocated = header_u64(RAW_OFF_ALLOCATED);
  if (__atomic_load_n(allocated, __ATOMIC_ACQUIRE) >= need) return 1;
  pthread_mutex_lock(&g_grow_lock);
  uint64_t have = __atomic_load_n(allocated, __ATOMIC_ACQUIRE);
  int ok = have >= need;
  if (!ok) {
    uint64_t want = need + (uint64_t)SELF_AHEAD_CHUNKS * g_chunk_size;
    int err = posix_fallocate(g_fd, (off_t)have, (off_t)(want - have));
    if (err == 0) {
      /* The watchdog raises it too: only ever move it up. */
      uint64_t cur = __atomic_load_n(allocated, __ATOMIC_ACQUIRE);
      while (cur < want && !__atomic_compare_exchange_n(allocated, &cur, want, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      }
      __atomic_fetch_add(header_u64(RAW_OFF_SELF_ALLOCATED), 1, __ATOMIC_RELAXED);
      ok = 1;
    } else {
      warn_once("cannot grow the trace file", err);
    }
  }
  pthread_mutex_unlock(&g_grow_lock);
  return ok;
}

/* `t` leaves its chunk; the last chunk of a window to be left unmaps the window. */
static void finish_chunk(struct rec_thread *t) {
  if (!t->chunk) return;
  if (g_ring) {
    unsigned char *c = g_ring_base + (t->chunk - 1) * g_chunk_size;
    t->chunk = 0;
    t->pos = t->end = NULL;
    __atomic_store_n((uint32_t *)(c + RAW_CHUNK_OFF_OWNED), 0, __ATOMIC_RELEASE);
    return;
  }
  uint64_t w = (t->chunk - 1) * g_chunk_size / WINDOW_BYTES;
  t->chunk = 0;
  t->pos = t->end = NULL;
  if (w >= MAX_WINDOWS) return;
  if (__atomic_add_fetch(&g_window_done[w], 1, __ATOMIC_ACQ_REL) == WINDOW_BYTES / g_chunk_size) {
    unsigned char *base = __atomic_exchange_n(&g_windows[w], WINDOW_GONE, __ATOMIC_ACQ_REL);
    if (base && base != WINDOW_GONE) munmap(base, WINDOW_BYTES);
  }
}

static void put_thread_record(struct rec_thread *t, const char *comm);

/* Fills the header of chunk `c` for `t` and starts writing into it. */
static void begin_chunk(struct rec_thread *t, unsigned char *c) {
  put_u32(c + RAW_CHUNK_OFF_SLOT, t->slot);
  put_u32(c + RAW_CHUNK_OFF_TID, t->tid);
  put_u32(c + RAW_CHUNK_OFF_SEQ, t->seq++);
  put_u64(c + RAW_CHUNK_OFF_RANGES, t->range_count);
  __atomic_store_n((uint32_t *)(c + RAW_CHUNK_OFF_MAGIC), RAW_CHUNK_MAGIC, __ATOMIC_RELEASE);
  t->pos = (uint64_t *)(c + RAW_CHUNK_HEADER_SIZE);
  t->end = (uint64_t *)(c + g_chunk_size);
  t->last_ts = 0;
  t->templates = 0; /* each chunk restates the templates it uses */
  t->hint = 0;
  write_calibration(t); /* a time base for compact events, a pair for the tick mapping, the chunk's start */
}

/*
 * Ring mode: the next ring chunk no live thread owns, cleared under an odd generation so that a
 * reader copying it meanwhile discards its copy. No system call: the pages are the file's, mapped once.
 * 0 when every chunk is owned (more live threads than chunks): this event is dropped, not the process.
 */
static int take_ring_chunk(struct rec_thread *t) {
  for (uint32_t tries = 0; tries < g_ring; tries++) {
    uint64_t index = __atomic_fetch_add(header_u64(RAW_OFF_CHUNKS_TAKEN), 1, __ATOMIC_ACQ_REL) % g_ring;
    unsigned char *c = g_ring_base + (RAW_RING_DEF_CHUNKS + index) * g_chunk_size;
    uint32_t free_ = 0;
    if (!__atomic_compare_exchange_n((uint32_t *)(c + RAW_CHUNK_OFF_OWNED), &free_, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) continue;
    uint32_t *gen = (uint32_t *)(c + RAW_CHUNK_OFF_GEN);
    uint32_t odd = __atomic_load_n(gen, __ATOMIC_RELAXED) | 1u;
    __atomic_store_n(gen, odd, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* the odd generation is visible before any byte changes */
    __atomic_store_n((uint32_t *)(c + RAW_CHUNK_OFF_MAGIC), 0, __ATOMIC_RELAXED);
    memset(c + RAW_CHUNK_HEADER_SIZE, 0, g_chunk_size - RAW_CHUNK_HEADER_SIZE);
    t->chunk = RAW_RING_DEF_CHUNKS + index + 1;
    begin_chunk(t, c);
    __atomic_store_n(gen, odd + 1u, __ATOMIC_RELEASE);
    if (t->watch) put_thread_record(t, g_comm[(t->watch - g_header - RAW_WATCH_OFFSET) / RAW_WATCH_ENTRY_SIZE]);
    return 1;
  }
  return 0;
}

/* Hands `t` the next chunk of the file. */
static int take_chunk(struct rec_thread *t) {
  finish_chunk(t);
  if (g_fd < 0) {
    /* A fork child's first event: its own file, then the definitions its events refer to. */
    pthread_mutex_lock(&g_lock);
    int ok = g_fd >= 0 || (g_child_pending && open_trace_file((uint32_t)getppid()));
    if (ok && g_child_pending) {
      g_child_pending = 0;
      g_need_definitions = 1;
    }
    pthread_mutex_unlock(&g_lock);
    if (!ok) return 0;
  }
  if (g_ring) return take_ring_chunk(t) ? 1 : -1;
  uint64_t index = __atomic_fetch_add(header_u64(RAW_OFF_CHUNKS_TAKEN), 1, __ATOMIC_ACQ_REL);
  uint64_t off = index * g_chunk_size;
  unsigned char *window = window_for(off);
  if (!window || window == WINDOW_GONE || !allocated_to(RAW_HEADER_SIZE + off + g_chunk_size)) return 0;
  unsigned char *c = window + off % WINDOW_BYTES;
  t->chunk = index + 1;
  begin_chunk(t, c);
  return 1;
}

static void add_dropped(void) {
  if (g_header) __atomic_fetch_add(header_u64(RAW_OFF_DROPPED), 1, __ATOMIC_RELAXED);
}

/* The thread's OS name (comm), recorded when it first records and again when it ends, so names set
 * after the first NVTX call (Python threads name themselves late, if at all) are caught too. */
static void write_thread_record(struct rec_thread *t) {
  char path[64], comm[64] = "";
  snprintf(path, sizeof path, "/proc/self/task/%u/comm", t->tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, comm, sizeof comm - 1);
    close(fd);
    if (n > 0) comm[comm[n - 1] == '\n' ? n - 1 : n] = 0;
  }
  if (t->watch) snprintf(g_comm[(t->watch - g_header - RAW_WATCH_OFFSET) / RAW_WATCH_ENTRY_SIZE], COMM_MAX, "%s", comm);
  put_thread_record(t, comm);
}

static void put_thread_record(struct rec_thread *t, const char *comm) {
  size_t len = strlen(comm);
  if (len == 0) return;
  unsigned words = 3 + rec_string_words(len);
  uint64_t *r = t->pos && (size_t)(t->end - t->pos) >= words ? t->pos : NULL;
  if (!r) return; /* a fresh chunk always has room; at exit a full chunk just keeps the first name */
  t->pos += words;
  rec_stamp(t, r, rec_now());
  r[2] = t->tid;
  rec_put_string(r + 3, comm, len);
  rec_commit(r, RAW_THREAD, 0, words, 0);
}

/* Template tables of the threads that have a watch entry, by entry; others get one from the heap. */
static struct rec_template g_template_pool[RAW_WATCH_ENTRIES][RAW_COMPACT_ARGS];

/* A watch table entry for `t`, when the file has one free; its template table goes with it. */
static void claim_watch(struct rec_thread *t) {
  for (unsigned i = 0; g_header && i < RAW_WATCH_ENTRIES; i++) {
    unsigned char *e = g_header + RAW_WATCH_OFFSET + i * RAW_WATCH_ENTRY_SIZE;
    uint32_t free_ = 0;
    if (__atomic_compare_exchange_n((uint32_t *)(e + RAW_WATCH_OFF_TID), &free_, t->tid, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
      __atomic_store_n((uint64_t *)(e + RAW_WATCH_OFF_HOLDS), 0, __ATOMIC_RELAXED);
      __atomic_store_n((uint64_t *)(e + RAW_WATCH_OFF_WAIT_SINCE), 0, __ATOMIC_RELAXED);
      t->watch = e;
      free(t->template); /* a heap table from before the file existed; no template is in use yet */
      t->template = g_template_pool[i];
      g_comm[i][0] = 0; /* the entry's previous thread's name */
      break;
    }
  }
}

/* A thread's first event: a slot, a watch table entry, and the destructor that closes it at exit. */
static void register_thread(struct rec_thread *t) {
  t->slot = __atomic_add_fetch(&g_next_slot, 1, __ATOMIC_RELAXED);
  t->tid = (uint32_t)syscall(SYS_gettid);
  t->watch = NULL;
  t->template = NULL;
  claim_watch(t);
  /* Past RAW_WATCH_ENTRIES live threads; NULL (no memory) means full records only. */
  if (!t->template) t->template = calloc(RAW_COMPACT_ARGS, sizeof *t->template);
  pthread_setspecific(g_thread_key, t);
}

uint64_t *rec_reserve_slow(struct rec_thread *t, unsigned words) {
  if (!rec_enabled || words > (g_chunk_size - RAW_CHUNK_HEADER_SIZE) / 8 - 8) {
    add_dropped(); /* counted one by one: the report says how much is missing */
    return NULL;
  }
  int first = t->slot == 0;
  if (first) register_thread(t);
  int took = take_chunk(t);
  if (took <= 0) {
    if (took == 0) rec_enabled = 0; /* the file cannot grow: recording stops for the process */
    add_dropped();
    return NULL;
  }
  /* A fork child's first thread registers before its file exists: the watch table comes with the file. */
  if (first && !t->watch) claim_watch(t);
  if (first) write_thread_record(t);
  if (g_need_definitions) {
    pthread_mutex_lock(&g_lock);
    if (g_need_definitions) {
      g_need_definitions = 0;
      write_definitions_locked();
    }
    pthread_mutex_unlock(&g_lock);
  }
  if ((size_t)(t->end - t->pos) < words) return rec_reserve_slow(t, words); /* definitions filled it */
  uint64_t *p = t->pos;
  t->pos += words;
  return p;
}

uint64_t *rec_put_string(uint64_t *w, const char *s, size_t len) {
  w[0] = len;
  memcpy(w + 1, s, len);
  return w + 1 + (len + 7) / 8;
}

size_t rec_clamp_string(const char *s) {
  if (!s) return 0;
  size_t len = strnlen(s, REC_MAX_STRING + 1);
  if (len <= REC_MAX_STRING) return len;
  len = REC_MAX_STRING;
  while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80) len--;
  return len;
}

/* Ring mode: room for a definition record in the definition chunks (the caller holds g_lock). */
static uint64_t *reserve_definition(unsigned words) {
  if (!g_def_pos || (size_t)(g_def_end - g_def_pos) < words) {
    if (g_def_chunks == RAW_RING_DEF_CHUNKS) return NULL;
    unsigned char *c = g_ring_base + (uint64_t)g_def_chunks * g_chunk_size;
    put_u32(c + RAW_CHUNK_OFF_SLOT, 0);
    put_u32(c + RAW_CHUNK_OFF_TID, (uint32_t)getpid());
    put_u32(c + RAW_CHUNK_OFF_SEQ, g_def_chunks++);
    __atomic_store_n((uint32_t *)(c + RAW_CHUNK_OFF_MAGIC), RAW_CHUNK_MAGIC, __ATOMIC_RELEASE);
    g_def_pos = (uint64_t *)(c + RAW_CHUNK_HEADER_SIZE);
    g_def_end = (uint64_t *)(c + g_chunk_size);
    if ((size_t)(g_def_end - g_def_pos) < words) return NULL;
  }
  uint64_t *r = g_def_pos;
  g_def_pos += words;
  return r;
}

/* Writes one definition record into the calling thread's chunk (ring mode: the definition chunks);
 * the caller holds g_lock. */
static void write_definition(const struct definition *d) {
  struct rec_thread *t = &rec_tls;
  size_t len = rec_clamp_string(d->text);
  int has_value = d->kind != RAW_DOMAIN;
  unsigned words = 2 + (unsigned)has_value + rec_string_words(len);
  if (g_ring) {
    uint64_t *r = reserve_definition(words);
    if (!r) {
      add_dropped();
      return;
    }
    r[1] = rec_now(); /* not the thread's time base: its chunk's compact events do not count from it */
    uint64_t *w = r + 2;
    if (has_value) *w++ = d->value;
    rec_put_string(w, d->text ? d->text : "", len);
    rec_commit(r, d->kind, 0, words, d->domain);
    return;
  }
  uint64_t *r = t->pos && (size_t)(t->end - t->pos) >= words ? t->pos : NULL;
  if (r) {
    t->pos += words;
  } else {
    if (t->slot == 0) register_thread(t);
    int first = t->pos == NULL;
    if (take_chunk(t) <= 0) {
      rec_enabled = 0;
      add_dropped();
      return;
    }
    if (first) write_thread_record(t);
    r = t->pos;
    t->pos += words;
  }
  rec_stamp(t, r, rec_now());
  uint64_t *w = r + 2;
  if (has_value) *w++ = d->value;
  rec_put_string(w, d->text ? d->text : "", len);
  rec_commit(r, d->kind, 0, words, d->domain);
}

static void write_definitions_locked(void) {
  for (size_t i = 0; i < g_defs_len && rec_enabled; i++) write_definition(&g_defs[i]);
}

void rec_define(unsigned kind, uint32_t domain, uint64_t value, const char *text) {
  pthread_mutex_lock(&g_lock);
  if (g_defs_len == g_defs_cap) {
    size_t cap = g_defs_cap ? g_defs_cap * 2 : 64;
    struct definition *grown = realloc(g_defs, cap * sizeof *grown);
    if (!grown) {
      pthread_mutex_unlock(&g_lock);
      return;
    }
    g_defs = grown;
    g_defs_cap = cap;
  }
  struct definition d = {kind, domain, value, strndup(text ? text : "", REC_MAX_STRING)};
  if (d.text) g_defs[g_defs_len++] = d;
  /* A fork child without its file yet writes every definition when the file is created. */
  if (rec_enabled && g_fd >= 0) write_definition(&d);
  pthread_mutex_unlock(&g_lock);
}
