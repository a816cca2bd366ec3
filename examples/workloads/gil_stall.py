"""The `gil-nvtx demo` workload: a service-shaped program with a GIL stall to find.

Four request threads do short bits of Python work and need the GIL often. Meanwhile:
  * a "bad C call" thread holds the GIL for ~200 ms while blocked *off-CPU*
    (ctypes.PyDLL(None).usleep: PyDLL does not release the GIL around the call),
  * then holds it for ~200 ms *on-CPU* in one C call (sum over a big range never checks the eval
    breaker, so the GIL is not handed over),
  * a writer thread appends to a temp file and calls os.fdatasync (that one releases the GIL: the
    contrast the report draws).
Every request thread records its worst latency; the program prints them. Plain stdlib. The threads
carry their names into the trace by themselves: build-python's interpreters name each OS thread after
its threading.Thread (gil_nvtx_threads.py).
Options: --seconds S (length of the run, default 1.5), --no-ctypes (interpreters without _ctypes).
"""
import argparse
import os
import sys
import tempfile
import threading
import time


def request_thread(stop, worst, i):
    worst[i] = 0.0
    while not stop.is_set():
        t0 = time.perf_counter()
        time.sleep(0.001)  # wait for the next "request"; waking up needs the GIL back
        total = 0
        for k in range(3000):  # a little Python work per request
            total += k * k
        worst[i] = max(worst[i], time.perf_counter() - t0)


def writer_thread(stop, path):
    with open(path, "wb") as f:
        while not stop.is_set():
            f.write(b"x" * 65536)
            f.flush()
            os.fdatasync(f.fileno())  # releases the GIL while the disk works


def calibrated_sum_n(target_s):
    # Calibrated in thread CPU time, best of three, so a busy machine (or a VM losing its CPU to a
    # neighbour) does not shrink the hold: it can only stretch it.
    n = 200_000
    while True:
        best = None
        for _ in range(3):
            t0 = time.thread_time()
            sum(range(n))
            dt = time.thread_time() - t0
            best = dt if best is None else min(best, dt)
            # Hand the GIL back between runs: with no other thread yet, back-to-back runs would show as
            # one long hold that blocked nobody, ranked above the stall the demo is about.
            time.sleep(0)
        if best > 0.02:
            return int(n * target_s / best)
        n *= 4


def bad_c_calls(stop, use_ctypes, sum_n):
    time.sleep(0.3)
    if use_ctypes:
        import ctypes
        libc = ctypes.PyDLL(None)
        print("stall: holding the GIL off-CPU for 200 ms (usleep through ctypes.PyDLL)", flush=True)
        libc.usleep(200_000)
    time.sleep(0.3)
    print("stall: holding the GIL on-CPU for ~200 ms (sum over a range in one C call)", flush=True)
    sum(range(sum_n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.5)
    ap.add_argument("--no-ctypes", action="store_true")
    args = ap.parse_args()

    sum_n = calibrated_sum_n(0.2)
    stop = threading.Event()
    worst = {}
    fd, path = tempfile.mkstemp(prefix="gil-stall-")
    os.close(fd)
    threads = [threading.Thread(target=request_thread, args=(stop, worst, i), name=f"request-{i}") for i in range(4)]
    threads.append(threading.Thread(target=writer_thread, args=(stop, path), name="writer"))
    staller = threading.Thread(target=bad_c_calls, args=(stop, not args.no_ctypes, sum_n), name="bad-c-call")
    try:
        for t in threads:
            t.start()
        staller.start()
        time.sleep(args.seconds)
        staller.join()
        stop.set()
        for t in threads:
            t.join()
    finally:
        os.unlink(path)
    for i in sorted(worst):
        print(f"request-{i}: worst latency {worst[i] * 1000:.0f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
