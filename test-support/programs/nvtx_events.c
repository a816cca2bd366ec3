/*
 * NVTX workload for the collector tests and bench: one program, several scenarios (argv[1]).
 * Compiled by the tests against the NVTX headers found at build time (never vendored).
 */
#define _GNU_SOURCE
#include <nvtx3/nvToolsExt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static nvtxDomainHandle_t gil, second;
static nvtxStringHandle_t holding;
static nvtxRangeId_t cross_id;

static nvtxEventAttributes_t attrs(void) {
  nvtxEventAttributes_t a;
  memset(&a, 0, sizeof a);
  a.version = NVTX_VERSION;
  a.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  return a;
}

static void define_all(void) {
  gil = nvtxDomainCreateA("CPython GIL");
  second = nvtxDomainCreateA("second");
  holding = nvtxDomainRegisterStringA(gil, "Holding GIL");
  nvtxNameCategoryA(3, "io");
  nvtxDomainNameCategoryA(gil, 7, "gilcat");
}

static void *worker(void *arg) {
  (void)arg;
  nvtxNameOsThreadA((uint32_t)syscall(SYS_gettid), "worker-1");
  nvtxDomainRangeEnd(gil, cross_id); /* ends a range the main thread started */
  nvtxRangePushA("w-outer");
  nvtxRangePushA("w-inner");
  nvtxRangePop();
  nvtxRangePop();
  return NULL;
}

/* Every kind of call the comparison with nsys looks at. */
static void basic(void) {
  define_all();
  nvtxEventAttributes_t a = attrs();
  a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
  a.message.registered = holding;
  a.payloadType = NVTX_PAYLOAD_TYPE_INT64;
  a.payload.llValue = 42;
  a.colorType = NVTX_COLOR_ARGB;
  a.color = 0xff00aa00u;
  a.category = 7;
  nvtxDomainRangePushEx(gil, &a);
  usleep(1000);
  nvtxDomainRangePop(gil);

  nvtxEventAttributes_t m = attrs();
  m.messageType = NVTX_MESSAGE_TYPE_ASCII;
  m.message.ascii = "mark!";
  m.payloadType = NVTX_PAYLOAD_TYPE_DOUBLE;
  m.payload.dValue = 2.5;
  nvtxDomainMarkEx(second, &m);
  nvtxMarkA("plain mark");

  nvtxEventAttributes_t u = attrs();
  u.messageType = NVTX_MESSAGE_TYPE_ASCII;
  u.message.ascii = "u64";
  u.payloadType = NVTX_PAYLOAD_TYPE_UNSIGNED_INT64;
  u.payload.ullValue = 7;
  nvtxDomainMarkEx(second, &u);
  u.message.ascii = "i32";
  u.payloadType = NVTX_PAYLOAD_TYPE_INT32;
  u.payload.iValue = -5;
  nvtxDomainMarkEx(second, &u);
  u.message.ascii = "f32";
  u.payloadType = NVTX_PAYLOAD_TYPE_FLOAT;
  u.payload.fValue = 1.5f;
  nvtxDomainMarkEx(second, &u);

  nvtxEventAttributes_t s = attrs();
  s.messageType = NVTX_MESSAGE_TYPE_ASCII;
  s.message.ascii = "cross-thread";
  s.payloadType = NVTX_PAYLOAD_TYPE_UNSIGNED_INT32;
  s.payload.uiValue = 9;
  cross_id = nvtxDomainRangeStartEx(gil, &s);

  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  pthread_join(t, NULL);

  nvtxRangePushA("outer");
  nvtxRangePushW(L"inner-\u00e9");
  nvtxRangePop();
  nvtxRangePop();
  nvtxRangeId_t se = nvtxRangeStartA("same-thread");
  nvtxRangeEnd(se);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long vm_hwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
  }
  if (f) fclose(f);
  return kb;
}

/* n push/pop pairs with a registered string in the GIL-free "bench" domain; prints ns per pair. */
static void pairs(long n) {
  nvtxDomainHandle_t d = nvtxDomainCreateA("bench");
  nvtxStringHandle_t s = nvtxDomainRegisterStringA(d, "pair");
  nvtxEventAttributes_t a = attrs();
  a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
  a.message.registered = s;
  /* CPU time as well as wall time: on a shared, loaded machine the wall clock measures the neighbours. */
  double t0 = now_s(), c0 = cpu_s();
  for (long i = 0; i < n; i++) {
    nvtxDomainRangePushEx(d, &a);
    nvtxDomainRangePop(d);
  }
  double t1 = now_s(), c1 = cpu_s();
  printf("pairs=%ld ns_per_pair=%.2f cpu_ns_per_pair=%.2f vm_hwm_kb=%ld\n", n, (t1 - t0) * 1e9 / (double)n,
         (c1 - c0) * 1e9 / (double)n, vm_hwm_kb());
}

/* One step of the "stamps" scenario: a mark between two CLOCK_MONOTONIC reads the program prints
 * itself, so a test can check where the collector's (converted) timestamp lands. */
static void stamp_step(int step, const char *role) {
  char name[32];
  snprintf(name, sizeof name, "step-%d", step);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  nvtxMarkA(name);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("stamp %d %s %lld %lld\n", step, role, (long long)a.tv_sec * 1000000000LL + a.tv_nsec,
         (long long)b.tv_sec * 1000000000LL + b.tv_nsec);
  usleep(3000);
}

static int g_step;
static void *stamp_thread(void *arg) {
  (void)arg;
  stamp_step(g_step++, "thread");
  stamp_step(g_step++, "thread");
  return NULL;
}

/* Steps taken in a known order by the main thread, a second thread, a fork child that exits normally
 * and one that ends with _exit (no exit calibration pair). */
static void stamps(void) {
  for (int round = 0; round < 2; round++) {
    stamp_step(g_step++, "main");
    pthread_t t;
    pthread_create(&t, NULL, stamp_thread, NULL);
    pthread_join(t, NULL);
    pid_t pid = fork();
    if (pid == 0) {
      stamp_step(g_step++, "child");
      stamp_step(g_step++, "child");
      if (round == 1) _exit(0);
      exit(0);
    }
    waitpid(pid, NULL, 0);
    g_step += 2;
  }
  stamp_step(g_step++, "main");
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "basic";
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!strcmp(mode, "basic")) {
    basic();
    nvtxRangePushA("unclosed");
    return 0;
  }
  if (!strcmp(mode, "fork")) {
    /* Child of a fork without exec: its events, and the parent's definitions, land in its own file. */
    define_all();
    nvtxRangePushA("parent-open-at-fork");
    pid_t pid = fork();
    if (pid == 0) {
      nvtxRangePop(); /* pops the parent's range: ignored, as nsys does */
      nvtxEventAttributes_t a = attrs();
      a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
      a.message.registered = holding;
      nvtxDomainRangePushEx(gil, &a);
      nvtxDomainRangePop(gil);
      nvtxMarkA("child mark");
      exit(0);
    }
    waitpid(pid, NULL, 0);
    nvtxRangePop();
    nvtxMarkA("parent mark");
    printf("child=%d\n", (int)pid);
    return 0;
  }
  if (!strcmp(mode, "spawn")) {
    /* fork + exec, as subprocess does: the child inherits the environment and so the collector. */
    nvtxMarkA("before spawn");
    pid_t pid = fork();
    if (pid == 0) {
      execl("/proc/self/exe", argv[0], "exec-child", (char *)NULL);
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    printf("child=%d status=%d\n", (int)pid, status);
    return 0;
  }
  if (!strcmp(mode, "exec")) {
    /* exec in place: same pid, a new program image and a new trace file. */
    define_all();
    nvtxMarkA("before exec");
    execl("/proc/self/exe", argv[0], "exec-child", (char *)NULL);
    return 127;
  }
  if (!strcmp(mode, "exec-child")) {
    define_all();
    nvtxMarkA("exec child mark");
    return 0;
  }
  if (!strcmp(mode, "_exit")) {
    define_all();
    nvtxMarkA("before _exit");
    nvtxRangePushA("open at _exit");
    nvtxRangeStartA("started before _exit");
    _exit(3);
  }
  if (!strcmp(mode, "kill")) {
    /* Records 1000 ranges, says so, then waits to be killed with SIGKILL. */
    for (int i = 0; i < 1000; i++) {
      nvtxRangePushA("before kill");
      nvtxRangePop();
    }
    nvtxRangePushA("open at kill");
    printf("ready\n");
    for (;;) pause();
  }
  if (!strcmp(mode, "cpu")) {
    /* Two 60 ms GIL holds, as the patch emits them (start/end "Holding GIL"): one spins on the CPU,
     * one sleeps in a system call. The watchdog samples both. */
    define_all();
    nvtxEventAttributes_t a = attrs();
    a.messageType = NVTX_MESSAGE_TYPE_REGISTERED;
    a.message.registered = holding;
    nvtxRangeId_t id = nvtxDomainRangeStartEx(gil, &a);
    volatile unsigned long x = 0;
    double t0 = now_s();
    while (now_s() - t0 < 0.06) x++;
    nvtxDomainRangeEnd(gil, id);
    id = nvtxDomainRangeStartEx(gil, &a);
    usleep(60000);
    nvtxDomainRangeEnd(gil, id);
    return 0;
  }
  if (!strcmp(mode, "resource")) {
    define_all();
    nvtxResourceAttributes_t r;
    memset(&r, 0, sizeof r);
    r.version = NVTX_VERSION;
    r.size = NVTX_RESOURCE_ATTRIB_STRUCT_SIZE;
    r.identifierType = NVTX_RESOURCE_TYPE_GENERIC_POINTER;
    r.identifier.pValue = (const void *)0x1234;
    r.messageType = NVTX_MESSAGE_TYPE_ASCII;
    r.message.ascii = "my mutex";
    nvtxResourceHandle_t h = nvtxDomainResourceCreate(gil, &r);
    nvtxDomainResourceDestroy(h);
    return 0;
  }
  if (!strcmp(mode, "clock")) {
    /* What one CLOCK_MONOTONIC read costs here: the collector takes two per push+pop pair. */
    long n = argc > 2 ? atol(argv[2]) : 1000000;
    struct timespec ts;
    unsigned long sink = 0;
    double t0 = now_s(), c0 = cpu_s();
    for (long i = 0; i < n; i++) {
      clock_gettime(CLOCK_MONOTONIC, &ts);
      sink += (unsigned long)ts.tv_nsec;
    }
    double t1 = now_s(), c1 = cpu_s();
    printf("reads=%ld ns_per_read=%.2f cpu_ns_per_read=%.2f sink=%lu\n", n, (t1 - t0) * 1e9 / (double)n,
           (c1 - c0) * 1e9 / (double)n, sink & 1);
    return 0;
  }
  if (!strcmp(mode, "stamps")) {
    stamps();
    return 0;
  }
  if (!strcmp(mode, "pairs")) {
    pairs(argc > 2 ? atol(argv[2]) : 1000000);
    return 0;
  }
  fprintf(stderr, "unknown mode %s\n", mode);
  return 2;
}
