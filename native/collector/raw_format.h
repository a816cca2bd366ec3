/*
 * The collector's raw per-process trace file: the one contract between the recorder (C, this folder)
 * and the merger (lib/trace/raw-reader.ts). Little-endian, 8-byte words.
 *
 *   [file header: RAW_HEADER_SIZE bytes][chunk 0][chunk 1]...      each chunk RAW_CHUNK_SIZE bytes
 *
 * The file is mapped MAP_SHARED, so every record is in the kernel's page cache the moment it is
 * written: nothing is lost when the process ends through _exit, a crash or SIGKILL. Only a machine
 * crash can lose data (nothing is fsync'd).
 *
 * A chunk belongs to one thread (header: tid, thread slot, per-thread sequence number) and holds
 * records back to back. A record is one header word followed by body words; the header word is
 * stored last (release store), so a reader sees a record completely or not at all, and a zero header
 * word marks the end of a chunk's data (the file is zero-filled when it grows).
 */
#ifndef GIL_NVTX_RAW_FORMAT_H
#define GIL_NVTX_RAW_FORMAT_H

#define RAW_MAGIC "GILNVTX1"
#define RAW_FORMAT_VERSION 2u /* 2: timestamps in the file's own tick unit (TSC or ns) + calibration pairs */
#define RAW_HEADER_SIZE 4096u
#define RAW_CHUNK_HEADER_SIZE 32u
#define RAW_CHUNK_MAGIC 0x4b4e4843u /* "CHNK" */

/* File header field offsets (bytes). */
#define RAW_OFF_MAGIC 0          /* char[8] */
#define RAW_OFF_VERSION 8        /* u32 */
#define RAW_OFF_CHUNK_SIZE 12    /* u32 */
#define RAW_OFF_PID 16           /* u32 */
#define RAW_OFF_PPID 20          /* u32 */
#define RAW_OFF_START_NS 24      /* u64, CLOCK_MONOTONIC when the collector attached */
#define RAW_OFF_START_REALTIME 32 /* u64, CLOCK_REALTIME at the same moment */
#define RAW_OFF_END_NS 40        /* u64, CLOCK_MONOTONIC at exit(); 0 if the process never ran atexit */
#define RAW_OFF_DROPPED 48       /* u64, events dropped because the file could not grow */
#define RAW_OFF_FORKED_FROM 56   /* u32, parent pid when this process is a fork child recording on, else 0 */
#define RAW_OFF_CMDLINE_LEN 60   /* u32 */
#define RAW_OFF_TICK_SOURCE 64   /* u32, what record timestamps count: RAW_TICKS_NS or RAW_TICKS_TSC */
#define RAW_OFF_START_TICKS 72   /* u64, ticks paired with START_NS (TSC only) */
#define RAW_OFF_END_TICKS 80     /* u64, ticks paired with END_NS (TSC only) */
#define RAW_OFF_CAL_TICKS 88     /* u64, a calibration pair taken ~2 ms after the collector first */
#define RAW_OFF_CAL_NS 96        /* u64  attached (inherited by fork children): a slope even if killed early */
#define RAW_OFF_CAL0_TICKS 104   /* u64, the pair taken when the collector first attached */
#define RAW_OFF_CAL0_NS 112      /* u64 */
#define RAW_OFF_CMDLINE 128      /* /proc/self/cmdline, NUL-separated, truncated to fit the header */

/* Timestamp sources (RAW_OFF_TICK_SOURCE). With RAW_TICKS_TSC every record's timestamp is a raw
 * rdtsc value and the merger converts it to CLOCK_MONOTONIC ns by piecewise-linear interpolation
 * between (ticks, CLOCK_MONOTONIC ns) calibration pairs: the header's (CAL0, CAL, START, END) and the
 * RAW_CALIBRATION records (one at the start of every chunk and when a thread or the process ends). */
#define RAW_TICKS_NS 0u  /* clock_gettime(CLOCK_MONOTONIC) ns */
#define RAW_TICKS_TSC 1u /* invariant TSC ticks (x86-64) */

/* Chunk header field offsets (bytes from the chunk start). */
#define RAW_CHUNK_OFF_MAGIC 0 /* u32 */
#define RAW_CHUNK_OFF_SLOT 4  /* u32, process-local thread slot */
#define RAW_CHUNK_OFF_TID 8   /* u32 */
#define RAW_CHUNK_OFF_SEQ 12  /* u32, chunk number within the thread slot */

/* Record header word: kind (bits 0-7) | flags (8-15) | words incl. header (16-31) | domain index (32-63).
 * Word 1 of every record is the timestamp in the file's ticks (RAW_OFF_TICK_SOURCE). */
enum raw_kind {
  RAW_PUSH = 1,          /* [attrs] */
  RAW_POP = 2,           /* [cpu] */
  RAW_START = 3,         /* range id, [attrs] */
  RAW_END = 4,           /* range id, [cpu] */
  RAW_MARK = 5,          /* [attrs] */
  RAW_DOMAIN = 6,        /* string (domain name); domain index in the header */
  RAW_STRING = 7,        /* string id, string */
  RAW_CATEGORY = 8,      /* category, string */
  RAW_THREAD_NAME = 9,   /* tid, string (nvtxNameOsThread) */
  RAW_RESOURCE = 10,     /* resource id, identifier type, identifier, message */
  RAW_RESOURCE_END = 11, /* resource id */
  RAW_THREAD = 12,       /* tid, string (OS comm name when the thread first records) */
  RAW_DOMAIN_END = 13,   /* (nvtxDomainDestroy) */
  RAW_CALIBRATION = 14,  /* CLOCK_MONOTONIC ns read between two tick reads whose mean is word 1 */
};

/* Attribute flags (header bits 8-15), in body order after the fixed words:
 * category|color word, payload word, message (string id word, or inline string), cpu-time word. */
#define RAW_F_COLOR 0x01u     /* word: category (low 32) | ARGB color (high 32) */
#define RAW_F_CATEGORY 0x02u  /* same word as RAW_F_COLOR; either flag adds it once */
#define RAW_F_PAYLOAD_SHIFT 2 /* 3 bits: nvtxPayloadType_t (1..6), 0 = none; then one payload word */
#define RAW_F_PAYLOAD_MASK 0x1cu
#define RAW_F_REGISTERED 0x20u /* word: registered string id */
#define RAW_F_INLINE 0x40u     /* inline string: word byte length, then bytes padded to 8 */
#define RAW_F_CPU 0x80u        /* word: CLOCK_THREAD_CPUTIME_ID ns (ranges of the `CPython GIL` domain) */

/* Range ids handed out by start: slot << 40 | per-thread counter; bit 63 marks a GIL-domain range
 * so that nvtxRangeEnd, which gets no domain, knows to read the thread's CPU clock. */
#define RAW_RANGE_GIL_BIT (1ull << 63)

#endif
