"""A GIL workload that exercises every path the gil-nvtx patch instruments.

CPU-bound threads, I/O threads (fdatasync, sleep), one thread that holds the GIL inside a C call
for ~200 ms on-CPU (sum over a range) and one that holds it ~200 ms off-CPU (usleep through
ctypes.PyDLL, which does not release the GIL), an os.fork() child that runs threads of its own,
and daemon threads that are still running (and waiting for the GIL) when the interpreter exits.

Plain stdlib. Prints one line per phase so a caller can tell how far it got. Options:
  --seconds S     length of the contended phase (default 1.0)
  --no-fork       skip the fork child
  --no-daemons    do not leave daemon threads running at exit
  --no-ctypes     skip the off-CPU hold (interpreters built without _ctypes)
"""
import argparse
import os
import sys
import tempfile
import threading
import time


def cpu_worker(stop):
    n = 0
    while not stop.is_set():
        for i in range(2000):
            n += i * i
    return n


def io_worker(stop, path):
    with open(path, "wb") as f:
        while not stop.is_set():
            f.write(b"x" * 4096)
            f.flush()
            os.fdatasync(f.fileno())
            time.sleep(0.002)


def hold_on_cpu(n):
    # sum() over a range runs in C and never checks the eval breaker: the GIL stays held.
    return sum(range(n))


def hold_off_cpu(usec):
    import ctypes
    # PyDLL keeps the GIL across the call: the holder sleeps while everyone else waits.
    ctypes.PyDLL(None).usleep(usec)


def calibrate_sum(target_s=0.2):
    n = 200_000
    while True:
        t = time.perf_counter()
        hold_on_cpu(n)
        dt = time.perf_counter() - t
        if dt > 0.02:
            return max(1, int(n * target_s / dt))
        n *= 4


def contended_phase(seconds, use_ctypes, tmpdir, label):
    stop = threading.Event()
    threads = [threading.Thread(target=cpu_worker, args=(stop,), name=f"{label}-cpu{i}") for i in range(3)]
    threads.append(threading.Thread(target=io_worker, args=(stop, os.path.join(tmpdir, f"{label}.bin")), name=f"{label}-io"))
    for t in threads:
        t.start()
    time.sleep(seconds / 3)
    holder = threading.Thread(target=hold_on_cpu, args=(calibrate_sum(),), name=f"{label}-hold-on-cpu")
    holder.start()
    holder.join()
    if use_ctypes:
        sleeper = threading.Thread(target=hold_off_cpu, args=(200_000,), name=f"{label}-hold-off-cpu")
        sleeper.start()
        sleeper.join()
    time.sleep(seconds / 3)
    stop.set()
    for t in threads:
        t.join()


def forked_child(tmpdir):
    stop = threading.Event()
    threads = [threading.Thread(target=cpu_worker, args=(stop,), name=f"child-cpu{i}") for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--no-fork", action="store_true")
    ap.add_argument("--no-daemons", action="store_true")
    ap.add_argument("--no-ctypes", action="store_true")
    args = ap.parse_args()
    use_ctypes = not args.no_ctypes
    if use_ctypes:
        try:
            import ctypes  # noqa: F401
        except ImportError:
            use_ctypes = False

    tmpdir = tempfile.mkdtemp(prefix="gil_mix-")
    print(f"pid {os.getpid()} python {sys.version.split()[0]} ctypes {use_ctypes}", flush=True)
    contended_phase(args.seconds, use_ctypes, tmpdir, "main")
    print("contended phase done", flush=True)

    if not args.no_fork:
        # The forking thread holds the GIL; the child rebuilds it (recreate_gil) and runs threads.
        bg_stop = threading.Event()
        bg = threading.Thread(target=cpu_worker, args=(bg_stop,), name="fork-bg")
        bg.start()
        pid = os.fork()
        if pid == 0:
            forked_child(tmpdir)
            print("fork child done", flush=True)
            sys.exit(0)  # normal exit: finalization runs, the tool flushes the child's events
        bg_stop.set()
        bg.join()
        _, status = os.waitpid(pid, 0)
        print(f"fork child exited with status {status}", flush=True)

    if not args.no_daemons:
        # Daemon threads still contending at exit: some wait for the GIL while the interpreter
        # finalizes and then exit (<= 3.13.7) or hang (3.13.8+) inside take_gil.
        stop = threading.Event()
        for i in range(3):
            threading.Thread(target=cpu_worker, args=(stop,), name=f"daemon{i}", daemon=True).start()
        time.sleep(0.1)
    print("main done", flush=True)


if __name__ == "__main__":
    main()
