"""CPU-bound threads benchmark: pure-Python loops in several threads, switching at the default
interval (5 ms), so the GIL changes hands a few hundred times a second.
Prints `seconds <wall> cpu <process CPU s>`.  --threads N (default 4)  --n N loop length per thread (default 5000000)
"""
import argparse
import threading
import time


def worker(n):
    x = 0
    for i in range(n):
        x += i & 7
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--n", type=int, default=5000000)
    a = ap.parse_args()
    threads = [threading.Thread(target=worker, args=(a.n,)) for _ in range(a.threads)]
    t0 = time.perf_counter()
    c0 = time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"seconds {time.perf_counter() - t0:.6f} cpu {time.process_time() - c0:.6f}", flush=True)


if __name__ == "__main__":
    main()
