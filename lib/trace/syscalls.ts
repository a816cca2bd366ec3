// Names of the Linux system calls a watchdog sample can show a GIL holder sitting in
// (/proc/<pid>/task/<tid>/syscall gives only the number). x86-64 numbering; other architectures get
// `syscall N`. The list holds the calls that block or sleep, which is what a long hold sits in.
const X86_64: Record<number, string> = {
  0: 'read', 1: 'write', 2: 'open', 3: 'close', 4: 'stat', 5: 'fstat', 7: 'poll', 8: 'lseek', 9: 'mmap',
  10: 'mprotect', 11: 'munmap', 12: 'brk', 16: 'ioctl', 17: 'pread64', 18: 'pwrite64', 19: 'readv',
  20: 'writev', 23: 'select', 24: 'sched_yield', 26: 'msync', 28: 'madvise', 34: 'pause', 35: 'nanosleep',
  40: 'sendfile', 42: 'connect', 43: 'accept', 44: 'sendto', 45: 'recvfrom', 46: 'sendmsg', 47: 'recvmsg',
  56: 'clone', 57: 'fork', 59: 'execve', 61: 'wait4', 62: 'kill', 72: 'fcntl', 73: 'flock', 74: 'fsync',
  75: 'fdatasync', 76: 'truncate', 77: 'ftruncate', 82: 'rename', 87: 'unlink', 162: 'sync',
  200: 'tkill', 202: 'futex', 213: 'epoll_create', 230: 'clock_nanosleep', 232: 'epoll_wait',
  247: 'waitid', 257: 'openat', 270: 'pselect6', 271: 'ppoll', 277: 'sync_file_range', 281: 'epoll_pwait',
  285: 'fallocate', 288: 'accept4', 295: 'preadv', 296: 'pwritev', 299: 'recvmmsg', 306: 'syncfs',
  307: 'sendmmsg', 318: 'getrandom', 319: 'memfd_create', 326: 'copy_file_range', 327: 'preadv2',
  328: 'pwritev2', 435: 'clone3', 441: 'epoll_pwait2',
};

/** `clock_nanosleep` for 230 on x86-64; `syscall N` where the number is not in the table. */
export function syscallName(nr: number, arch: string = process.arch): string {
  return (arch === 'x64' ? X86_64[nr] : undefined) ?? `syscall ${nr}`;
}
