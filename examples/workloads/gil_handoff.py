"""GIL-handoff-heavy benchmark: threads that release and retake the GIL as often as possible.

Every time.sleep(0) is a Py_BEGIN/END_ALLOW_THREADS pair (drop_gil + take_gil), and with several
threads most of them hand the GIL to another thread.
Prints `seconds <wall> cpu <process CPU s> transitions <n>`.
  --threads N   (default 4)   --iters N per thread (default 20000)
"""
import argparse
import threading
import time


def worker(iters):
    sleep = time.sleep
    for _ in range(iters):
        sleep(0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--iters", type=int, default=20000)
    a = ap.parse_args()
    threads = [threading.Thread(target=worker, args=(a.iters,)) for _ in range(a.threads)]
    t0 = time.perf_counter()
    c0 = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(f"seconds {dt:.6f} cpu {cpu:.6f} transitions {2 * a.threads * a.iters}", flush=True)


if __name__ == "__main__":
    main()
