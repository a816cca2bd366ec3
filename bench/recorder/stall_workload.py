"""A hand-off-heavy service with injected GIL stalls, for the flight recorder's soak.

Worker threads release and retake the GIL as fast as they can (os.read of one byte releases it around
the system call); an injector thread, at random times, calls usleep through ctypes.PyDLL, which keeps
the GIL for the whole call: every other thread waits. Each injection is logged on stdout as
`stall <CLOCK_MONOTONIC ns at its start> <ns at its end>`; at the end, `cycles <n> seconds <wall>`.
  --seconds S (default 20)  --threads N (default 2)  --stall-ms MS (default 150)
  --gap-min S --gap-max S   seconds between stalls (default 3 to 5)  --seed N  --no-stalls
  --batch N --pause-ms MS   each worker sleeps MS after every N hand-offs (default 1000, 0: flat out)
"""
import argparse
import ctypes
import os
import random
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--stall-ms", type=int, default=150)
    ap.add_argument("--gap-min", type=float, default=3)
    ap.add_argument("--gap-max", type=float, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-stalls", action="store_true")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--pause-ms", type=float, default=0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    usleep = ctypes.PyDLL(None).usleep  # PyDLL: the GIL stays held during the call
    usleep.argtypes = [ctypes.c_uint]
    stop = time.monotonic() + a.seconds
    fd = os.open("/dev/zero", os.O_RDONLY)
    counts = [0] * a.threads

    def work(k):
        read = os.read
        n = 0
        batch, pause = a.batch, a.pause_ms / 1000
        while time.monotonic() < stop:
            for _ in range(batch):
                read(fd, 1)
            n += batch
            if pause:
                time.sleep(pause)
        counts[k] = n

    def inject():
        while True:
            at = time.monotonic() + rng.uniform(a.gap_min, a.gap_max)
            if at + a.stall_ms / 1000 + 1 > stop:
                return
            while time.monotonic() < at:
                time.sleep(0.05)
            t0 = time.monotonic_ns()
            usleep(a.stall_ms * 1000)
            t1 = time.monotonic_ns()
            print(f"stall {t0} {t1}", flush=True)

    t_start = time.perf_counter()
    threads = [threading.Thread(target=work, args=(k,)) for k in range(a.threads)]
    if not a.no_stalls:
        threads.append(threading.Thread(target=inject))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"cycles {sum(counts)} seconds {time.perf_counter() - t_start:.3f}", flush=True)


if __name__ == "__main__":
    main()
