/*
 * Per-thread event recording into chunks of a file-backed shared mapping (see raw_format.h).
 * The hot path touches only thread-local state: reserve words in the thread's current chunk, fill
 * them, publish the header word. A full chunk is replaced by the next one with one atomic add on the
 * file header; system calls happen only when a thread starts or ends, for definitions (domains,
 * strings, categories), around fork, and when no watchdog allocated file space ahead of the threads.
 */
#ifndef GIL_NVTX_RECORDER_H
#define GIL_NVTX_RECORDER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "raw_format.h"

/* Attributes a RAW_COMPACT event refers to (raw_format.h), as the recorder wrote them in a template. */
struct rec_template {
  uint64_t head;     /* domain index | attribute flags << 32 */
  uint64_t color;    /* category | color << 32 */
  uint64_t payload;
  uint64_t string_id;
  /* The caller's attribute block and domain this template was last matched from: a repeat of the same
   * call (every GIL transition) is recognised by comparing six words, without decoding the attributes. */
  const void *domain;
  uint64_t raw[6];
};

struct rec_thread {
  uint64_t *pos;        /* next free word in the current chunk, NULL before the first chunk */
  uint64_t *end;        /* one past the chunk's last word */
  uint64_t last_ts;     /* the last timestamp written in this chunk: compact events count from it; 0 = none */
  uint64_t range_count; /* start/end ranges begun by this thread */
  unsigned char *watch; /* this thread's watch table entry, NULL when the table was full */
  uint64_t chunk;       /* 1 + the index of the chunk being written, 0 = none */
  uint32_t slot;        /* process-local thread number, 1-based; 0 = not registered */
  uint32_t tid;
  uint32_t seq;         /* chunks this slot has taken */
  int32_t depth;        /* push/pop nesting, for the NVTX return values */
  int32_t hold_depth;   /* open GIL holds (a thread can hold several GILs, one per interpreter) */
  uint32_t templates;   /* templates written in the current chunk */
  uint32_t hint;        /* the template used last: the next event usually uses it or its neighbour */
  uint32_t pop_hint;    /* the template of the last pop: a pop has no attributes to match */
  uint64_t hold_t0;     /* start of the open outermost GIL hold, for the metrics table */
  uint64_t wait_t0;     /* start of the open GIL wait */
  unsigned char *metrics; /* the metrics entry of the GIL this thread used last, NULL when the table is full */
  unsigned char *hold_metrics; /* ... of the open outermost hold's GIL */
  uint64_t metrics_gil; /* 1 + that GIL's interpreter id; 0 = none chosen yet */
  /* RAW_COMPACT_ARGS entries, outside TLS: a thread-local block this small stays in glibc's static TLS,
   * where each access is a few instructions instead of a call to the dynamic TLS resolver. */
  struct rec_template *template;
};

extern __thread struct rec_thread rec_tls __attribute__((visibility("hidden")));

/* This thread's recorder state. The empty asm pins the address in a register: without it the compiler
 * recomputes it (a TLS descriptor call) at each use in a function, three times on a GIL transition. */
static inline struct rec_thread *rec_self(void) {
  struct rec_thread *t = &rec_tls;
  __asm__("" : "+r"(t));
  return t;
}

/* Set once by rec_init; cleared when recording stops (file cannot grow, say). */
extern volatile int rec_enabled __attribute__((visibility("hidden")));

/* Opens this process's trace file. Returns 1 when recording, 0 after printing why not. */
int rec_init(void);

uint64_t *rec_reserve_slow(struct rec_thread *t, unsigned words);

/* Reserve `words` words in the calling thread's chunk; NULL when recording is off (drop the event). */
static inline uint64_t *rec_reserve(struct rec_thread *t, unsigned words) {
  uint64_t *p = t->pos;
  if (__builtin_expect(p != NULL && (size_t)(t->end - p) >= words, 1)) {
    t->pos = p + words;
    return p;
  }
  return rec_reserve_slow(t, words);
}

/* Publish a filled record: the header word goes last, so readers never see half a record. */
static inline void rec_commit(uint64_t *record, unsigned kind, unsigned flags, unsigned words, uint32_t domain) {
  uint64_t header = (uint64_t)kind | ((uint64_t)flags << 8) | ((uint64_t)words << 16) | ((uint64_t)domain << 32);
  __atomic_store_n(record, header, __ATOMIC_RELEASE);
}

/* Word 1 of a full record; compact events that follow count their time from it. */
static inline void rec_stamp(struct rec_thread *t, uint64_t *record, uint64_t ts) {
  record[1] = ts;
  t->last_ts = ts;
}

/*
 * Writes a one-word RAW_COMPACT event into `r` (reserved by the caller) when its time fits the 32-bit
 * delta from the thread's last timestamp in this chunk; returns 0 otherwise (the caller writes a full
 * record instead).
 */
static inline int rec_put_compact(struct rec_thread *t, uint64_t *r, unsigned op, unsigned arg, uint64_t now) {
  uint64_t base = t->last_ts;
  if (__builtin_expect(base == 0 || now < base || now - base > 0xffffffffull, 0)) return 0;
  t->last_ts = now;
  uint64_t word = (uint64_t)RAW_COMPACT | ((uint64_t)(op | (arg << 3)) << 8) | (1ull << 16) | ((now - base) << 32);
  __atomic_store_n(r, word, __ATOMIC_RELEASE);
  return 1;
}

static inline uint64_t rec_clock_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Set once by rec_init before any event: record timestamps are TSC ticks (raw_format.h). */
extern int rec_tsc __attribute__((visibility("hidden")));

/*
 * Every record timestamp. rdtsc costs a few ns where a vDSO clock_gettime costs ~25-30 ns; the
 * merger maps ticks back to CLOCK_MONOTONIC ns through the calibration pairs, so the trace still has
 * one clock for every thread and process.
 */
static inline uint64_t rec_now(void) {
#if defined(__x86_64__)
  if (__builtin_expect(rec_tsc, 1)) return __rdtsc();
#endif
  return rec_clock_ns(CLOCK_MONOTONIC);
}

/* ---- the metrics table (raw_format.h): plain stores by the entry's one writer ------------------- */

/* (ticks * rec_ns_mult) >> 32 = ns; set once by rec_init from the attach calibration pairs. */
extern uint64_t rec_ns_mult __attribute__((visibility("hidden")));
extern uint64_t rec_long_hold_ns __attribute__((visibility("hidden")));

/* Makes t->metrics the entry of GIL `gil` (interpreter id), taking one if the thread has none. No
 * system call or lock: a scan of the table and a compare-and-swap, only when the thread's GIL changes. */
void rec_metrics_select(struct rec_thread *t, uint64_t gil);

static inline unsigned char *rec_metrics_for(struct rec_thread *t, uint64_t gil) {
  if (__builtin_expect(t->metrics_gil != gil + 1, 0)) rec_metrics_select(t, gil);
  return t->metrics;
}

static inline void rec_metrics_add(unsigned char *m, unsigned off, uint64_t v) {
  uint64_t *p = (uint64_t *)(m + off);
  __atomic_store_n(p, *p + v, __ATOMIC_RELAXED); /* one writer; relaxed keeps the store whole for readers */
}

/* Bucket of a duration: upper bounds 2^(10 + 2k) ns, the last one unbounded (raw_format.h). */
static inline unsigned rec_metrics_bucket(uint64_t ns) {
  if (ns <= (1ull << RAW_METRICS_BUCKET0_LOG2)) return 0;
  unsigned bits = 64u - (unsigned)__builtin_clzll(ns - 1); /* ceil(log2(ns)) */
  unsigned k = (bits - RAW_METRICS_BUCKET0_LOG2 + 1) / 2;
  return k < RAW_METRICS_BUCKETS - 1 ? k : RAW_METRICS_BUCKETS - 1;
}

static inline uint64_t rec_ticks_to_ns(uint64_t ticks) { return (uint64_t)(((unsigned __int128)ticks * rec_ns_mult) >> 32); }

/* A hold or wait that ran from `t0` to `now` (ticks), `ns_off` its total's field: total, histogram bucket
 * (whose sum is the count). Returns its length in ns. */
static inline uint64_t rec_metrics_span(unsigned char *m, unsigned ns_off, unsigned buckets_off, uint64_t t0, uint64_t now) {
  uint64_t ns = rec_ticks_to_ns(now > t0 ? now - t0 : 0);
  rec_metrics_add(m, ns_off, ns);
  rec_metrics_add(m, buckets_off + 8 * rec_metrics_bucket(ns), 1);
  return ns;
}

/* The watch table entry's hold field: plain stores the watchdog reads from another process. The
 * hold's start is also kept for the metrics table; `gil` is its interpreter id. */
static inline void rec_watch_hold_begin(struct rec_thread *t, uint64_t now) {
  if (t->hold_depth++ != 0) return;
  t->hold_t0 = now;
  /* take_gil begins every hold right after the wait for the same GIL, which chose its entry. */
  t->hold_metrics = t->metrics;
  if (!t->watch) return;
  uint64_t *holds = (uint64_t *)(t->watch + RAW_WATCH_OFF_HOLDS);
  __atomic_store_n(holds, *holds + 1, __ATOMIC_RELAXED);
  __atomic_store_n((uint64_t *)(t->watch + RAW_WATCH_OFF_HOLD_SINCE), now, __ATOMIC_RELEASE);
}

static inline void rec_watch_hold_end(struct rec_thread *t, uint64_t now) {
  if (t->hold_depth <= 0) return; /* an end for a hold begun before a fork, or never seen */
  if (--t->hold_depth != 0) return;
  unsigned char *m = t->hold_metrics;
  if (m && rec_metrics_span(m, RAW_METRICS_OFF_HOLD_NS, RAW_METRICS_OFF_HOLD_BUCKETS, t->hold_t0, now) >= rec_long_hold_ns)
    rec_metrics_add(m, RAW_METRICS_OFF_LONG_HOLDS, 1);
  if (!t->watch) return;
  __atomic_store_n((uint64_t *)(t->watch + RAW_WATCH_OFF_HOLD_SINCE), 0, __ATOMIC_RELEASE);
}

/* The watch entry's wait field: when the thread began waiting for a GIL (the watchdog's wait trigger). */
static inline void rec_watch_wait_begin(struct rec_thread *t, uint64_t now, uint64_t gil) {
  t->wait_t0 = now;
  rec_metrics_for(t, gil);
  if (t->watch) __atomic_store_n((uint64_t *)(t->watch + RAW_WATCH_OFF_WAIT_SINCE), now, __ATOMIC_RELEASE);
}

static inline void rec_watch_wait_end(struct rec_thread *t, uint64_t now) {
  /* Nothing between a wait's begin and end chooses another GIL's entry (a drop request is for the GIL waited for). */
  if (t->wait_t0 && t->metrics) rec_metrics_span(t->metrics, RAW_METRICS_OFF_WAIT_NS, RAW_METRICS_OFF_WAIT_BUCKETS, t->wait_t0, now);
  t->wait_t0 = 0;
  if (t->watch) __atomic_store_n((uint64_t *)(t->watch + RAW_WATCH_OFF_WAIT_SINCE), 0, __ATOMIC_RELEASE);
}

/* Words an inline string of `len` bytes takes (length word + bytes padded to 8). */
static inline unsigned rec_string_words(size_t len) { return 1u + (unsigned)((len + 7) / 8); }

/* Writes the length word and bytes; returns the word after the string. */
uint64_t *rec_put_string(uint64_t *w, const char *s, size_t len);

/* Longest inline string kept; longer ones are cut (on a UTF-8 boundary). */
#define REC_MAX_STRING 4000u
size_t rec_clamp_string(const char *s);

/*
 * Definitions (domains, registered strings, category names) are also kept in memory so that a fork
 * child, which starts a trace file of its own, can write them again before its first event.
 */
void rec_define(unsigned kind, uint32_t domain, uint64_t value, const char *text);

#endif
