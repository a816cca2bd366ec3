/*
 * The collector's raw per-process trace file: the one contract between the recorder (C, this folder),
 * the watchdog (native/watchdog) and the merger (lib/trace/raw-reader.ts, whose constants a test checks
 * against this file). Little-endian, 8-byte words.
 *
 *   [file header: RAW_HEADER_SIZE bytes][chunk 0][chunk 1]...      each chunk RAW_OFF_CHUNK_SIZE bytes
 *
 * The file is mapped MAP_SHARED, so every record is in the kernel's page cache the moment it is
 * written: nothing is lost when the process ends through _exit, a crash or SIGKILL. Only a machine
 * crash can lose data (nothing is fsync'd).
 *
 * The file grows chunk by chunk, sparse beyond what is used: a process that did little costs a few
 * pages. Chunk space is allocated (posix_fallocate) before a thread writes into it, so a full disk
 * drops events instead of raising SIGBUS. The watchdog allocates ahead of the threads (it watches
 * RAW_OFF_CHUNKS_TAKEN), so that in a traced program the GIL hot path never makes a system call.
 *
 * A chunk belongs to one thread (header: tid, thread slot, per-thread sequence number) and holds
 * records back to back. A record is one header word followed by body words; the header word is
 * stored last (release store), so a reader sees a record completely or not at all, and a zero header
 * word marks the end of a chunk's data (allocated space reads as zeros).
 */
#ifndef GIL_NVTX_RAW_FORMAT_H
#define GIL_NVTX_RAW_FORMAT_H

#define RAW_MAGIC "GILNVTX1"
#define RAW_FORMAT_VERSION 5u /* 5: GIL metrics table; 4: ring mode (chunk generation, owner, range base); 3: compact one-word events */
#define RAW_HEADER_SIZE 40960u /* page 0: the fields below; page 1: the watch table; pages 2-9: the metrics table */
#define RAW_CHUNK_HEADER_SIZE 32u
#define RAW_CHUNK_MAGIC 0x4b4e4843u /* "CHNK" */
#define RAW_FILE_SUFFIX ".gnvtx"    /* <trace dir>/<pid>-<start ns>.gnvtx, one per program image */

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
#define RAW_OFF_CHUNKS_TAKEN 120 /* u64, chunks handed to threads (atomic counter: chunk i at HEADER + i*size) */
#define RAW_OFF_ALLOCATED 128    /* u64, bytes of the file that have disk blocks (atomic, only grows) */
#define RAW_OFF_SELF_ALLOCATED 136 /* u64, chunks a recording thread had to allocate itself (no watchdog ahead) */
#define RAW_OFF_WATCH_COUNT 144  /* u32, entries in the watch table */
#define RAW_OFF_WATCHDOG_PID 148 /* u32, the watchdog that attached to this file, 0 if none */
#define RAW_OFF_EXE_DEV 152      /* u64, st_dev of the program image's executable (/proc/self/exe) */
#define RAW_OFF_EXE_INO 160      /* u64, st_ino of it: exec keeps the pid, not these */
#define RAW_OFF_RING_CHUNKS 168  /* u32, ring mode: chunks in the ring (after the definition chunks); 0 = grow */
#define RAW_OFF_LONG_HOLD_NS 176 /* u64, holds at least this long count as long in the metrics table (GIL_NVTX_LONG_HOLD_MS) */
#define RAW_OFF_CMDLINE 512      /* /proc/self/cmdline, NUL-separated, truncated to fit page 0 */
#define RAW_CMDLINE_MAX (4096u - RAW_OFF_CMDLINE)

/*
 * The watch table (page 1): one entry per recording thread, so that the watchdog, another process,
 * sees which thread holds a GIL and since when without the holder doing anything but two stores.
 * An entry is free while its tid is 0.
 */
#define RAW_WATCH_OFFSET 4096u
#define RAW_WATCH_ENTRY_SIZE 32u
#define RAW_WATCH_ENTRIES 128u
#define RAW_WATCH_OFF_TID 0         /* u32 */
#define RAW_WATCH_OFF_HOLD_SINCE 8  /* u64, timestamp (file ticks) of the open outermost GIL hold, 0 = none */
#define RAW_WATCH_OFF_HOLDS 16      /* u64, GIL holds this thread has begun */
#define RAW_WATCH_OFF_WAIT_SINCE 24 /* u64, timestamp (file ticks) of the thread's open GIL wait, 0 = none */

/*
 * The metrics table (pages 2-9): GIL counters and duration histograms that `gil-nvtx record` serves in
 * the Prometheus text format while the program runs. An entry is written by one thread at a time (its
 * owner), with plain stores, at the end of each GIL hold and wait and at each drop request; it counts
 * for one GIL (the interpreter id the patch gives as the ranges' payload). A thread takes an entry for
 * each GIL it uses; when it ends it gives its entries up and another thread of the same GIL goes on
 * adding to them, so an entry's counters only grow for the life of the file. Nested holds (a thread
 * holding two GILs) count the outermost only, as the watch table does.
 * Durations are ns (ticks converted with the slope of the attach calibration pairs). Words 16 and 32 are
 * unused: counts are the histograms' sums (one store fewer per hold and wait). Histogram bucket
 * k < RAW_METRICS_BUCKETS - 1 counts the durations d with 2^(10 + 2(k-1)) < d <= 2^(10 + 2k) ns (bucket 0:
 * d <= 1024 ns), the last one the longer ones: not cumulative.
 */
#define RAW_METRICS_OFFSET 8192u
#define RAW_METRICS_ENTRY_SIZE 256u
#define RAW_METRICS_ENTRIES 128u
#define RAW_METRICS_BUCKETS 12u
#define RAW_METRICS_BUCKET0_LOG2 10u /* bucket k's upper bound: 2^(10 + 2k) ns, 1.02 us ... 1.07 s, then +Inf */
#define RAW_METRICS_OFF_OWNER 0        /* u32, tid of the thread writing the entry, 0 = none */
#define RAW_METRICS_OFF_USED 4         /* u32, 1 once the entry is some GIL's (stored after GIL) */
#define RAW_METRICS_OFF_GIL 8          /* u64, the interpreter id of the GIL */
#define RAW_METRICS_OFF_HOLD_NS 24     /* u64, total length of the holds that ended (their count: the hold buckets' sum) */
#define RAW_METRICS_OFF_WAIT_NS 40     /* u64, of the waits that ended (the GIL taken, or the wait given up) */
#define RAW_METRICS_OFF_LONG_HOLDS 48  /* u64, holds of at least RAW_OFF_LONG_HOLD_NS */
#define RAW_METRICS_OFF_DROPS 56       /* u64, "GIL drop request" marks: a waiter asked the holder to drop */
#define RAW_METRICS_OFF_HOLD_BUCKETS 64 /* u64[RAW_METRICS_BUCKETS] */
#define RAW_METRICS_OFF_WAIT_BUCKETS 160 /* u64[RAW_METRICS_BUCKETS] */

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
#define RAW_CHUNK_OFF_RANGES 16 /* u64, ranges the thread had started when it took the chunk (numbers its compact starts) */
#define RAW_CHUNK_OFF_GEN 24  /* u32, ring mode: odd while the chunk is being (re)taken, even when stable */
#define RAW_CHUNK_OFF_OWNED 28 /* u32, ring mode: 1 while a live thread writes into the chunk (never retaken then) */

/*
 * Ring mode (GIL_NVTX_RING_CHUNKS=N, set by `gil-nvtx record`): the file has a fixed size, allocated
 * once when it is created: the header, RAW_RING_DEF_CHUNKS definition chunks (slot 0: domains,
 * registered strings and categories, never reused, so any window of the ring can be read with the names
 * its events refer to), then N ring chunks. A thread that needs a chunk takes ring chunk
 * (RAW_OFF_CHUNKS_TAKEN++ % N), skipping one a live thread still owns, and clears it. Readers copy a
 * chunk between two reads of its generation (seqlock): an odd or changed generation means it was being
 * reused, and the copy is discarded. Each chunk starts with a calibration record whose ns word says
 * when the thread began writing it.
 */
#define RAW_RING_DEF_CHUNKS 2u
#define RAW_RING_MIN_CHUNKS 8u

/* Record header word: kind (bits 0-7) | flags (8-15) | words incl. header (16-31) | domain index (32-63).
 * Word 1 of every record but RAW_COMPACT is the timestamp in the file's ticks (RAW_OFF_TICK_SOURCE). */
enum raw_kind {
  RAW_PUSH = 1,          /* [attrs] */
  RAW_POP = 2,           /* */
  RAW_START = 3,         /* range id, [attrs] */
  RAW_END = 4,           /* range id */
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
  RAW_COMPACT = 15,      /* one word, no timestamp word: see below */
  RAW_TEMPLATE = 16,     /* template index, [attrs]: what a RAW_COMPACT push/start/mark/pop refers to */
};

/*
 * RAW_COMPACT: a whole event in its header word, for events whose attributes a thread has used
 * before (GIL transitions, registered-string ranges):
 *   bits 0-7 kind (15) | bits 8-10 op (RAW_OP_*) | bits 11-15 arg | bits 16-31 words (1) |
 *   bits 32-63 ticks since the previous timestamp this thread wrote in this chunk.
 * arg is, for push / start / mark / pop, the index of a RAW_TEMPLATE written earlier in the same chunk
 * by the same thread (its domain, colour, category, payload and registered message); for end, how many
 * ranges this thread started after the one that ends (the merger numbers starts as the recorder does).
 * Each chunk restates the templates it uses, so a chunk can be read without the ones before it.
 */
#define RAW_OP_PUSH 0u
#define RAW_OP_POP 1u
#define RAW_OP_START 2u
#define RAW_OP_END 3u
#define RAW_OP_MARK 4u
#define RAW_COMPACT_ARGS 32u /* templates per thread and chunk; end distances 0..31 */

/* Attribute flags (header bits 8-15), in body order after the fixed words:
 * category|color word, payload word, message (string id word, or inline string). */
#define RAW_F_COLOR 0x01u     /* word: category (low 32) | ARGB color (high 32) */
#define RAW_F_CATEGORY 0x02u  /* same word as RAW_F_COLOR; either flag adds it once */
#define RAW_F_PAYLOAD_SHIFT 2 /* 3 bits: nvtxPayloadType_t (1..6), 0 = none; then one payload word */
#define RAW_F_PAYLOAD_MASK 0x1cu
#define RAW_F_REGISTERED 0x20u /* word: registered string id */
#define RAW_F_INLINE 0x40u     /* inline string: word byte length, then bytes padded to 8 */

/* Range ids handed out by start: slot << 40 | per-thread counter (starts numbered from 1); bit 62
 * marks a GIL hold, so that nvtxRangeEnd, which gets no domain, knows to clear the watch entry. */
#define RAW_RANGE_SLOT_SHIFT 40
#define RAW_RANGE_COUNTER_MASK ((1ull << 40) - 1)
#define RAW_RANGE_HOLD_BIT (1ull << 62)
#define RAW_RANGE_WAIT_BIT (1ull << 61) /* a GIL wait, for the watch entry's wait field (slots stay below 2^21) */

/*
 * The watchdog's samples file (<trace dir>/watchdog-<pid>.gsamp): a 64-byte header (magic, version,
 * sample size) and fixed-size samples, one per long hold per sampling period.
 */
#define SAMPLE_MAGIC "GILSAMP1"
#define SAMPLE_FORMAT_VERSION 1u
#define SAMPLE_HEADER_SIZE 64u
#define SAMPLE_SIZE 128u
#define SAMPLE_FILE_SUFFIX ".gsamp"
/* Sample fields (byte offsets). Counters are cumulative; UINT64_MAX = could not be read. */
#define SAMPLE_OFF_PID 0            /* u32 */
#define SAMPLE_OFF_TID 4            /* u32 */
#define SAMPLE_OFF_NS 8             /* u64, CLOCK_MONOTONIC of the sample */
#define SAMPLE_OFF_HOLD_SINCE 16    /* u64, the hold's start in the traced file's ticks (ties it to its hold) */
#define SAMPLE_OFF_EXEC_NS 24       /* u64, schedstat: time on a CPU */
#define SAMPLE_OFF_RUNQ_NS 32       /* u64, schedstat: time runnable, waiting for a CPU */
#define SAMPLE_OFF_MINFLT 40        /* u64 */
#define SAMPLE_OFF_MAJFLT 48        /* u64 */
#define SAMPLE_OFF_SYSCALL 56       /* i64, /proc/.../syscall: number, -1 not in a system call, -2 unknown */
#define SAMPLE_OFF_ARG0 64          /* u64, first system call argument */
#define SAMPLE_OFF_THROTTLED_NS 72  /* u64, the process's CPU cgroup: throttled time */
#define SAMPLE_OFF_NR_THROTTLED 80  /* u64, the process's CPU cgroup: throttled periods */
#define SAMPLE_OFF_PSI_CPU_US 88    /* u64, /proc/pressure/cpu some total */
#define SAMPLE_OFF_PSI_IO_US 96     /* u64, /proc/pressure/io some total */
#define SAMPLE_OFF_PSI_MEM_US 104   /* u64, /proc/pressure/memory some total */
#define SAMPLE_OFF_STATE 112        /* char, /proc/.../stat state (R, S, D, ...) */
#define SAMPLE_OFF_WCHAN 113        /* char[15], /proc/.../wchan, NUL-padded */

#endif
