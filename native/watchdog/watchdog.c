/*
 * gil_nvtx_watchdog: the collector's companion process. `gil-nvtx trace` starts it beside the traced
 * program; it finds the collector's files in the trace folder and, for each:
 *  - allocates file space ahead of the recording threads (they would otherwise make a system call
 *    at each new chunk), keeping the GIL hot path of the traced program free of system calls;
 *  - reads the watch table (raw_format.h): while a thread's GIL hold is older than the threshold, it
 *    samples that thread every period from /proc (scheduler state, CPU and run-queue time, faults,
 *    the system call it sits in, wchan) and the process's CPU cgroup and pressure counters, and writes
 *    the samples to <dir>/watchdog-<pid>.gsamp.
 * Being another process, it can never hold a lock the GIL holder needs, costs the traced program
 * nothing, and a crash of it leaves the program running. Ends on SIGTERM/SIGINT or when its parent dies.
 *
 * For `gil-nvtx record` (ring mode, raw_format.h) it also reports each hold that grows past
 * --trigger-hold-ms (each wait past --trigger-wait-ms), once, as a line on stdout:
 * `hold <pid> <tid> <hold start, CLOCK_MONOTONIC ns>` (`wait …`);
 * stdout is non-blocking, so a recorder that stops reading costs the watchdog nothing but those lines.
 * --samples-max-bytes N bounds the samples file: past N bytes it becomes watchdog-<pid>-old.gsamp
 * (replacing the previous one) and a new one starts, so the samples never take more than 2 N.
 *
 * usage: gil_nvtx_watchdog DIR [--threshold-ms N] [--period-ms N] [--trigger-hold-ms N] [--trigger-wait-ms N]
 *                          [--samples-max-bytes N]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "../collector/raw_format.h"

#define MAX_FILES 1024
#define AHEAD_MIN_CHUNKS 4u
#define SCAN_EVERY_NS 20000000ull /* look for new trace files every 20 ms */
#define UNKNOWN UINT64_MAX

struct held {               /* a long hold being sampled */
  uint64_t since;           /* its start (file ticks); 0 = none */
  uint32_t tid;
  int stat_fd, sched_fd, syscall_fd, wchan_fd;
};

struct traced {
  char name[NAME_MAX + 1];
  int fd;
  unsigned char *hdr;
  uint32_t pid, chunk_size, tsc;
  uint64_t start_ns;
  double ticks_per_ns;
  uint64_t last_taken;
  int live;
  int cgroup_fd;
  int throttled_us; /* cgroup v2 counts throttled time in µs, v1 in ns */
  struct held held[RAW_WATCH_ENTRIES];
  uint64_t reported[RAW_WATCH_ENTRIES];      /* the hold start last reported as a trigger, per entry */
  uint64_t reported_wait[RAW_WATCH_ENTRIES]; /* the same for waits */
};

static struct traced g_files[MAX_FILES];
static int g_nfiles;
static volatile sig_atomic_t g_stop;
static int g_out = -1;
static uint64_t g_out_bytes, g_out_max;
static uint64_t g_trigger_ns;      /* 0 = no hold trigger reports */
static uint64_t g_wait_trigger_ns; /* 0 = no wait trigger reports */
static char g_out_path[PATH_MAX + 64];
static int g_psi[3] = {-1, -1, -1};
static char g_dir[PATH_MAX];
static int32_t g_threshold_ms, g_period_ms; /* as the samples file's header states them */

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ticks(const struct traced *f) {
#if defined(__x86_64__)
  if (f->tsc) return __rdtsc();
#endif
  (void)f;
  return mono_ns();
}

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static uint32_t get_u32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* Reads a whole small /proc or /sys file from offset 0 into buf (NUL-terminated); -1 on failure. */
static ssize_t read_at0(int fd, char *buf, size_t cap) {
  if (fd < 0) return -1;
  ssize_t n = pread(fd, buf, cap - 1, 0);
  if (n < 0) return -1;
  buf[n] = 0;
  return n;
}

static int open_ro(const char *path) { return open(path, O_RDONLY | O_CLOEXEC); }

/* The process's CPU cgroup cpu.stat: the v1 `cpu` controller's, else the v2 unified one's. */
static int open_cgroup_stat(uint32_t pid, int *v2) {
  char path[PATH_MAX], line[PATH_MAX];
  snprintf(path, sizeof path, "/proc/%u/cgroup", pid);
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  char v1[PATH_MAX] = "", unified[PATH_MAX] = "";
  int have_v1 = 0, have_v2 = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = 0;
    const char *controllers = c1 + 1, *where = c2 + 1;
    if (*controllers == 0) {
      snprintf(unified, sizeof unified, "%s", where);
      have_v2 = 1;
      continue;
    }
    char list[256];
    snprintf(list, sizeof list, "%s", controllers);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
      if (!strcmp(tok, "cpu")) {
        snprintf(v1, sizeof v1, "%s", where);
        have_v1 = 1;
      }
    }
  }
  fclose(f);
  const char *v1_mounts[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"};
  for (unsigned i = 0; have_v1 && i < 2; i++) {
    snprintf(path, sizeof path, "%s%s/cpu.stat", v1_mounts[i], strcmp(v1, "/") ? v1 : "");
    int fd = open_ro(path);
    if (fd >= 0) {
      *v2 = 0;
      return fd;
    }
  }
  const char *v2_mounts[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
  for (unsigned i = 0; have_v2 && i < 2; i++) {
    snprintf(path, sizeof path, "%s%s/cpu.stat", v2_mounts[i], strcmp(unified, "/") ? unified : "");
    int fd = open_ro(path);
    if (fd >= 0) {
      char buf[1024];
      /* v2's root has no throttling keys: only a file that has them is worth sampling. */
      if (read_at0(fd, buf, sizeof buf) > 0 && strstr(buf, "throttled_usec")) {
        *v2 = 1;
        return fd;
      }
      close(fd);
    }
  }
  return -1;
}

static uint64_t key_value(const char *text, const char *key) {
  const char *p = text;
  size_t k = strlen(key);
  while ((p = strstr(p, key)) != NULL) {
    if ((p == text || p[-1] == '\n' || p[-1] == ' ') && (p[k] == ' ' || p[k] == '=')) return strtoull(p + k + 1, NULL, 10);
    p += k;
  }
  return UNKNOWN;
}

/*
 * Whether the process still runs the program image that wrote `f`. exec keeps the pid, and a Python
 * thread execs while it holds the GIL, so the old image's watch table keeps that hold open; when the
 * new image makes no NVTX call, no newer file of the pid retires the old one. The collector records
 * its executable's device and inode; a different one now means an exec (a patched interpreter
 * exec'ing itself writes a newer file, which retires this one anyway).
 */
static int same_image(const struct traced *f) {
  uint64_t dev = get_u64(f->hdr + RAW_OFF_EXE_DEV), ino = get_u64(f->hdr + RAW_OFF_EXE_INO);
  char path[64];
  struct stat st;
  snprintf(path, sizeof path, "/proc/%u/exe", f->pid);
  if (ino == 0 || stat(path, &st) != 0) return 1; /* unknown: keep watching */
  return (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

static void attach(const char *name) {
  if (g_nfiles == MAX_FILES) return;
  char path[PATH_MAX + NAME_MAX + 2];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < (off_t)RAW_HEADER_SIZE) {
    close(fd);
    return;
  }
  unsigned char *h = mmap(NULL, RAW_HEADER_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (h == MAP_FAILED) {
    close(fd);
    return;
  }
  /* The collector writes the magic before the file is published, but be robust to a torn view. */
  if (memcmp(h, RAW_MAGIC, 8) != 0 || get_u32(h + RAW_OFF_VERSION) != RAW_FORMAT_VERSION || get_u32(h + RAW_OFF_CHUNK_SIZE) == 0) {
    munmap(h, RAW_HEADER_SIZE);
    close(fd);
    return;
  }
  struct traced *f = &g_files[g_nfiles++];
  memset(f, 0, sizeof *f);
  snprintf(f->name, sizeof f->name, "%s", name);
  f->fd = fd;
  f->hdr = h;
  f->pid = get_u32(h + RAW_OFF_PID);
  f->chunk_size = get_u32(h + RAW_OFF_CHUNK_SIZE);
  f->tsc = get_u32(h + RAW_OFF_TICK_SOURCE) == RAW_TICKS_TSC;
  f->start_ns = get_u64(h + RAW_OFF_START_NS);
  f->ticks_per_ns = 1.0;
  if (f->tsc) {
    uint64_t t0 = get_u64(h + RAW_OFF_CAL0_TICKS), n0 = get_u64(h + RAW_OFF_CAL0_NS);
    uint64_t t1 = get_u64(h + RAW_OFF_CAL_TICKS), n1 = get_u64(h + RAW_OFF_CAL_NS);
    f->ticks_per_ns = n1 > n0 && t1 > t0 ? (double)(t1 - t0) / (double)(n1 - n0) : 1.0;
  }
  f->live = 1;
  for (unsigned i = 0; i < RAW_WATCH_ENTRIES; i++) f->held[i].stat_fd = f->held[i].sched_fd = f->held[i].syscall_fd = f->held[i].wchan_fd = -1;
  int v2 = 0;
  f->cgroup_fd = open_cgroup_stat(f->pid, &v2);
  f->throttled_us = v2;
  __atomic_store_n((uint32_t *)(h + RAW_OFF_WATCHDOG_PID), (uint32_t)getpid(), __ATOMIC_RELAXED);
}

static void stop_sampling(struct held *s) {
  int *fds[] = {&s->stat_fd, &s->sched_fd, &s->syscall_fd, &s->wchan_fd};
  for (unsigned i = 0; i < 4; i++) {
    if (*fds[i] >= 0) close(*fds[i]);
    *fds[i] = -1;
  }
  s->since = 0;
  s->tid = 0;
}

static void retire(struct traced *f) {
  f->live = 0;
  for (unsigned i = 0; i < RAW_WATCH_ENTRIES; i++) stop_sampling(&f->held[i]);
  if (f->cgroup_fd >= 0) close(f->cgroup_fd);
  f->cgroup_fd = -1;
  munmap(f->hdr, RAW_HEADER_SIZE);
  close(f->fd);
}

static int known(const char *name) {
  for (int i = 0; i < g_nfiles; i++) {
    if (!strcmp(g_files[i].name, name)) return 1;
  }
  return 0;
}

/* New collector files; a file whose pid started a newer one (exec) or whose process is gone retires. */
static void scan(void) {
  DIR *d = opendir(g_dir);
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      size_t n = strlen(e->d_name);
      const size_t suffix = sizeof RAW_FILE_SUFFIX - 1;
      if (n > suffix && !strcmp(e->d_name + n - suffix, RAW_FILE_SUFFIX) && !known(e->d_name)) attach(e->d_name);
    }
    closedir(d);
  }
  for (int i = 0; i < g_nfiles; i++) {
    struct traced *f = &g_files[i];
    if (!f->live) continue;
    int gone = (kill((pid_t)f->pid, 0) != 0 && errno == ESRCH) || !same_image(f);
    for (int j = 0; !gone && j < g_nfiles; j++) {
      gone = j != i && g_files[j].live && g_files[j].pid == f->pid && g_files[j].start_ns > f->start_ns;
    }
    if (gone) retire(f);
  }
}

/* Keeps disk blocks allocated ahead of the chunks the threads have taken (raw_format.h). */
static void allocate_ahead(struct traced *f) {
  if (get_u32(f->hdr + RAW_OFF_RING_CHUNKS)) return; /* a ring is allocated whole when it is created */
  uint64_t taken = __atomic_load_n((uint64_t *)(f->hdr + RAW_OFF_CHUNKS_TAKEN), __ATOMIC_ACQUIRE);
  uint64_t rate = taken - f->last_taken; /* chunks since the last look */
  f->last_taken = taken;
  uint64_t ahead = AHEAD_MIN_CHUNKS > 3 * rate ? AHEAD_MIN_CHUNKS : 3 * rate;
  uint64_t want = RAW_HEADER_SIZE + (taken + ahead) * (uint64_t)f->chunk_size;
  uint64_t *allocated = (uint64_t *)(f->hdr + RAW_OFF_ALLOCATED);
  uint64_t have = __atomic_load_n(allocated, __ATOMIC_ACQUIRE);
  if (have >= want) return;
  if (posix_fallocate(f->fd, (off_t)have, (off_t)(want - have)) != 0) return; /* full disk: threads drop */
  uint64_t cur = have;
  while (cur < want && !__atomic_compare_exchange_n(allocated, &cur, want, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
  }
}

static int open_task(uint32_t pid, uint32_t tid, const char *what) {
  char path[96];
  snprintf(path, sizeof path, "/proc/%u/task/%u/%s", pid, tid, what);
  return open_ro(path);
}

static void put64(unsigned char *s, unsigned off, uint64_t v) { memcpy(s + off, &v, 8); }

static uint64_t psi_total(int fd) {
  char buf[256];
  if (read_at0(fd, buf, sizeof buf) <= 0) return UNKNOWN;
  const char *p = strstr(buf, "total=");
  return p ? strtoull(p + 6, NULL, 10) : UNKNOWN;
}

static void rotate_samples(void);

static void sample(struct traced *f, struct held *s) {
  unsigned char out[SAMPLE_SIZE];
  memset(out, 0, sizeof out);
  memcpy(out + SAMPLE_OFF_PID, &f->pid, 4);
  memcpy(out + SAMPLE_OFF_TID, &s->tid, 4);
  put64(out, SAMPLE_OFF_NS, mono_ns());
  put64(out, SAMPLE_OFF_HOLD_SINCE, s->since);
  char buf[1024];
  uint64_t exec_ns = UNKNOWN, runq_ns = UNKNOWN, minflt = UNKNOWN, majflt = UNKNOWN;
  char state = '?';
  if (read_at0(s->sched_fd, buf, sizeof buf) > 0) {
    char *end;
    exec_ns = strtoull(buf, &end, 10);
    runq_ns = strtoull(end, NULL, 10);
  }
  if (read_at0(s->stat_fd, buf, sizeof buf) > 0) {
    char *p = strrchr(buf, ')'); /* the comm field may contain spaces and parentheses */
    if (p && p[1] == ' ') {
      state = p[2];
      char *tok = p + 2;
      for (int field = 0; field < 10 && tok; field++) {
        if (field == 7) minflt = strtoull(tok, NULL, 10);
        if (field == 9) majflt = strtoull(tok, NULL, 10);
        tok = strchr(tok, ' ');
        if (tok) tok++;
      }
    }
  }
  int64_t nr = -2;
  uint64_t arg0 = 0;
  if (read_at0(s->syscall_fd, buf, sizeof buf) > 0) {
    if (!strncmp(buf, "running", 7)) nr = -1;
    else {
      char *end;
      nr = strtoll(buf, &end, 10);
      if (nr >= 0) arg0 = strtoull(end, NULL, 16);
      else nr = -1;
    }
  }
  put64(out, SAMPLE_OFF_EXEC_NS, exec_ns);
  put64(out, SAMPLE_OFF_RUNQ_NS, runq_ns);
  put64(out, SAMPLE_OFF_MINFLT, minflt);
  put64(out, SAMPLE_OFF_MAJFLT, majflt);
  memcpy(out + SAMPLE_OFF_SYSCALL, &nr, 8);
  put64(out, SAMPLE_OFF_ARG0, arg0);
  uint64_t throttled = UNKNOWN, periods = UNKNOWN;
  if (read_at0(f->cgroup_fd, buf, sizeof buf) > 0) {
    throttled = key_value(buf, f->throttled_us ? "throttled_usec" : "throttled_time");
    if (throttled != UNKNOWN && f->throttled_us) throttled *= 1000;
    periods = key_value(buf, "nr_throttled");
  }
  put64(out, SAMPLE_OFF_THROTTLED_NS, throttled);
  put64(out, SAMPLE_OFF_NR_THROTTLED, periods);
  put64(out, SAMPLE_OFF_PSI_CPU_US, psi_total(g_psi[0]));
  put64(out, SAMPLE_OFF_PSI_IO_US, psi_total(g_psi[1]));
  put64(out, SAMPLE_OFF_PSI_MEM_US, psi_total(g_psi[2]));
  out[SAMPLE_OFF_STATE] = (unsigned char)state;
  ssize_t w = read_at0(s->wchan_fd, buf, 16);
  if (w > 0 && strcmp(buf, "0") != 0) memcpy(out + SAMPLE_OFF_WCHAN, buf, (size_t)w < 15 ? (size_t)w : 15);
  if (g_out_max && g_out_bytes >= g_out_max) rotate_samples();
  if (g_out >= 0 && write(g_out, out, sizeof out) != (ssize_t)sizeof out) {
    /* A full disk: samples stop, the trace itself goes on. */
  } else {
    g_out_bytes += sizeof out;
  }
}

/* A trigger line for a hold past --trigger-hold-ms; dropped when the reader is not keeping up. */
static void report_hold(const struct traced *f, const char *what, uint32_t tid, uint64_t since, uint64_t now) {
  uint64_t age_ns = (uint64_t)((double)(now - since) / f->ticks_per_ns);
  char line[96];
  int n = snprintf(line, sizeof line, "%s %u %u %llu\n", what, f->pid, tid, (unsigned long long)(mono_ns() - age_ns));
  if (write(STDOUT_FILENO, line, (size_t)n) != n) {
    /* a full pipe or a recorder gone: the ring keeps the hold; only this trigger is lost */
  }
}

/* Samples every long hold of `f`. Returns how soon (ns) an open hold will need a look: 0 while one is
 * being sampled, the time left to the threshold for younger ones, UINT64_MAX when none is open. */
static uint64_t watch(struct traced *f, uint64_t threshold_ns) {
  uint64_t soonest = UINT64_MAX;
  uint64_t now = now_ticks(f);
  uint64_t threshold = (uint64_t)((double)threshold_ns * f->ticks_per_ns);
  for (unsigned i = 0; i < RAW_WATCH_ENTRIES; i++) {
    const unsigned char *e = f->hdr + RAW_WATCH_OFFSET + i * RAW_WATCH_ENTRY_SIZE;
    uint32_t tid = __atomic_load_n((const uint32_t *)(e + RAW_WATCH_OFF_TID), __ATOMIC_ACQUIRE);
    uint64_t since = tid ? __atomic_load_n((const uint64_t *)(e + RAW_WATCH_OFF_HOLD_SINCE), __ATOMIC_ACQUIRE) : 0;
    uint64_t waiting = tid && g_wait_trigger_ns ? __atomic_load_n((const uint64_t *)(e + RAW_WATCH_OFF_WAIT_SINCE), __ATOMIC_ACQUIRE) : 0;
    if (waiting && now > waiting && f->reported_wait[i] != waiting && get_u64(f->hdr + RAW_OFF_END_NS) == 0) {
      uint64_t left = (uint64_t)((double)g_wait_trigger_ns * f->ticks_per_ns);
      if (now - waiting >= left) {
        f->reported_wait[i] = waiting;
        report_hold(f, "wait", tid, waiting, now);
      } else {
        uint64_t ns = (uint64_t)((double)(left - (now - waiting)) / f->ticks_per_ns);
        if (ns < soonest) soonest = ns;
      }
    }
    struct held *s = &f->held[i];
    if (s->since && (s->since != since || s->tid != tid)) stop_sampling(s);
    if (!since || now < since) continue;
    /* A process past exit() (a zombie not yet reaped) leaves its last hold open: not a stall. */
    if (g_trigger_ns && f->reported[i] != since && get_u64(f->hdr + RAW_OFF_END_NS) == 0 && now - since >= (uint64_t)((double)g_trigger_ns * f->ticks_per_ns)) {
      f->reported[i] = since;
      report_hold(f, "hold", tid, since, now);
    }
    if (now - since < threshold) {
      uint64_t left = (uint64_t)((double)(threshold - (now - since)) / f->ticks_per_ns);
      if (left < soonest) soonest = left;
      continue;
    }
    soonest = 0;
    if (!s->since) {
      s->since = since;
      s->tid = tid;
      s->stat_fd = open_task(f->pid, tid, "stat");
      s->sched_fd = open_task(f->pid, tid, "schedstat");
      s->syscall_fd = open_task(f->pid, tid, "syscall");
      s->wchan_fd = open_task(f->pid, tid, "wchan");
    }
    sample(f, s);
  }
  return soonest;
}

static int open_samples(void) {
  g_out = open(g_out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (g_out < 0) return 0;
  unsigned char head[SAMPLE_HEADER_SIZE];
  memset(head, 0, sizeof head);
  memcpy(head, SAMPLE_MAGIC, 8);
  uint32_t v = SAMPLE_FORMAT_VERSION, size = SAMPLE_SIZE;
  memcpy(head + 8, &v, 4);
  memcpy(head + 12, &size, 4);
  memcpy(head + 16, &g_threshold_ms, 4);
  memcpy(head + 20, &g_period_ms, 4);
  g_out_bytes = sizeof head;
  return write(g_out, head, sizeof head) == (ssize_t)sizeof head;
}

static void rotate_samples(void) {
  char old[PATH_MAX + 80];
  snprintf(old, sizeof old, "%s/watchdog-%d-old" SAMPLE_FILE_SUFFIX, g_dir, (int)getpid());
  close(g_out);
  g_out = -1;
  if (rename(g_out_path, old) == 0) (void)open_samples();
}

static long arg_ms(const char *s, const char *name) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == 0 || *end != 0 || v < 0 || v > 60000) {
    fprintf(stderr, "gil_nvtx_watchdog: %s takes milliseconds from 0 to 60000, not '%s'\n", name, s);
    exit(2);
  }
  return v;
}

#define USAGE "usage: gil_nvtx_watchdog DIR [--threshold-ms N] [--period-ms N] [--trigger-hold-ms N] [--trigger-wait-ms N] [--samples-max-bytes N]\n"

int main(int argc, char **argv) {
  long threshold_ms = 10, period_ms = 1, trigger_ms = 0, wait_trigger_ms = 0;
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--threshold-ms") && i + 1 < argc) threshold_ms = arg_ms(argv[++i], "--threshold-ms");
    else if (!strcmp(argv[i], "--period-ms") && i + 1 < argc) period_ms = arg_ms(argv[++i], "--period-ms");
    else if (!strcmp(argv[i], "--trigger-hold-ms") && i + 1 < argc) trigger_ms = arg_ms(argv[++i], "--trigger-hold-ms");
    else if (!strcmp(argv[i], "--trigger-wait-ms") && i + 1 < argc) wait_trigger_ms = arg_ms(argv[++i], "--trigger-wait-ms");
    else if (!strcmp(argv[i], "--samples-max-bytes") && i + 1 < argc) g_out_max = strtoull(argv[++i], NULL, 10);
    else if (argv[i][0] != '-' && !dir) dir = argv[i];
    else {
      fprintf(stderr, USAGE);
      return 2;
    }
  }
  if (!dir) {
    fprintf(stderr, USAGE);
    return 2;
  }
  if (period_ms < 1) period_ms = 1;
  snprintf(g_dir, sizeof g_dir, "%s", dir);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  if (getppid() == 1) return 0; /* the parent died before PDEATHSIG was armed */
  signal(SIGPIPE, SIG_IGN); /* a recorder that died: trigger lines fail, the watchdog goes on */
  g_wait_trigger_ns = (uint64_t)wait_trigger_ms * 1000000ull;
  if (trigger_ms || wait_trigger_ms) {
    int fl = fcntl(STDOUT_FILENO, F_GETFL);
    if (fl >= 0) (void)fcntl(STDOUT_FILENO, F_SETFL, fl | O_NONBLOCK);
    g_trigger_ns = (uint64_t)trigger_ms * 1000000ull;
    if (trigger_ms && trigger_ms < threshold_ms) threshold_ms = trigger_ms; /* look at holds from the trigger on */
  }
  g_threshold_ms = (int32_t)threshold_ms;
  g_period_ms = (int32_t)period_ms;
  snprintf(g_out_path, sizeof g_out_path, "%s/watchdog-%d" SAMPLE_FILE_SUFFIX, g_dir, (int)getpid());
  if (!open_samples()) {
    fprintf(stderr, "gil_nvtx_watchdog: cannot create %s: %s\n", g_out_path, strerror(errno));
    return 1;
  }
  const char *psi[3] = {"/proc/pressure/cpu", "/proc/pressure/io", "/proc/pressure/memory"};
  for (int i = 0; i < 3; i++) g_psi[i] = open_ro(psi[i]);

  uint64_t threshold_ns = (uint64_t)threshold_ms * 1000000ull;
  /* Idle: look often enough to catch a hold within half the threshold of its crossing it. */
  uint64_t idle_ns = threshold_ns / 2 < 5000000ull ? threshold_ns / 2 : 5000000ull;
  if (idle_ns < (uint64_t)period_ms * 1000000ull) idle_ns = (uint64_t)period_ms * 1000000ull;
  uint64_t last_scan = 0;
  while (!g_stop) {
    uint64_t t = mono_ns();
    if (t - last_scan >= SCAN_EVERY_NS) {
      scan();
      last_scan = t;
    }
    uint64_t pause = idle_ns;
    for (int i = 0; i < g_nfiles; i++) {
      if (!g_files[i].live) continue;
      allocate_ahead(&g_files[i]);
      uint64_t soon = watch(&g_files[i], threshold_ns);
      if (soon < pause) pause = soon;
    }
    if (pause < (uint64_t)period_ms * 1000000ull) pause = (uint64_t)period_ms * 1000000ull;
    struct timespec ts = {(time_t)(pause / 1000000000ull), (long)(pause % 1000000000ull)};
    nanosleep(&ts, NULL);
  }
  /* A last look, so holds that crossed the threshold just before the end are sampled once more. */
  for (int i = 0; i < g_nfiles; i++) {
    if (g_files[i].live) watch(&g_files[i], threshold_ns);
  }
  close(g_out);
  return 0;
}
