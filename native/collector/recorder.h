/*
 * Per-thread event recording into chunks of a file-backed shared mapping (see raw_format.h).
 * The hot path touches only thread-local state: reserve words in the thread's current chunk, fill
 * them, publish the header word. The process-wide mutex is taken only when a thread starts, when a
 * chunk fills, for definitions (domains, strings, categories) and around fork.
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

struct rec_thread {
  uint64_t *pos;        /* next free word in the current chunk, NULL before the first chunk */
  uint64_t *end;        /* one past the chunk's last word */
  void *chunk;          /* current chunk mapping */
  uint64_t range_count; /* start/end ranges begun by this thread */
  uint32_t slot;        /* process-local thread number, 1-based; 0 = not registered */
  uint32_t tid;
  uint32_t seq;   /* chunks this slot has taken */
  int32_t depth;  /* push/pop nesting, for the NVTX return values */
  struct rec_thread *next;
};

extern __thread struct rec_thread rec_tls __attribute__((visibility("hidden")));

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
