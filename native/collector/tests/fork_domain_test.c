/*
 * Native unit test (ctest): a process that forks while another of its threads is creating NVTX domains
 * must give children that can create domains too. The collector guards its domain list with a mutex;
 * a child forked while another thread held it would inherit it locked, and its first domain creation
 * (or string registration behind it) would wait forever. Each child has a deadline (alarm): a child
 * killed by it is a failure, so the test ends whatever happens.
 * Usage: fork_domain_test <path of gil_nvtx_collector.so>
 */
#define _GNU_SOURCE
#include <nvtx3/nvToolsExt.h>

#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORKS 200
#define CHILD_DEADLINE_S 10

static volatile int stop;

/* Creates domains as fast as it can: most of the time it is inside the collector's domain lock. */
static void *creator(void *arg) {
  (void)arg;
  char name[32];
  for (unsigned i = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++) {
    snprintf(name, sizeof name, "creator-%u", i % 512);
    nvtxDomainCreateA(name);
  }
  return NULL;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  char dir[] = "/tmp/gil-nvtx-fork-domain-XXXXXX";
  if (!mkdtemp(dir)) return 2;
  setenv("NVTX_INJECTION64_PATH", argv[1], 1);
  setenv("GIL_NVTX_TRACE_DIR", dir, 1);
  /* The first call loads the collector, before any thread or fork. */
  nvtxDomainCreateA("parent");

  pthread_t thread;
  if (pthread_create(&thread, NULL, creator, NULL) != 0) return 2;
  int hung = 0, failed = 0;
  for (int i = 0; i < FORKS; i++) {
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) {
      alarm(CHILD_DEADLINE_S);
      nvtxDomainHandle_t d = nvtxDomainCreateA("child");
      nvtxDomainMarkEx(d, NULL);
      _exit(d ? 0 : 1);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return 2;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) hung++;
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
    if (hung) break; /* one is enough to know, and each costs the deadline */
  }
  __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
  pthread_join(thread, NULL);
  nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  if (hung || failed) {
    fprintf(stderr, "fork_domain_test: %d child(ren) hung creating a domain, %d failed otherwise\n", hung, failed);
    return 1;
  }
  printf("fork_domain_test: %d children created domains while the parent was creating others\n", FORKS);
  return 0;
}
