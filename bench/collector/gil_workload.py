# The GIL workloads of bench/collector/gil.mjs. Prints one JSON line measured by the process itself
# (so every tool is measured the same way): wall and process CPU seconds of the work, and the
# voluntary / involuntary context switches it caused.
#   handoff THREADS N: N os.read(/dev/zero, 1) per thread, each one GIL release and retake
#   cpu THREADS N:     N additions per thread in pure Python (forced switches every 5 ms)
import json, os, resource, sys, threading, time

mode, threads, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def handoff():
    fd = os.open("/dev/zero", os.O_RDONLY)
    for _ in range(n):
        os.read(fd, 1)

def cpu():
    s = 0
    for i in range(n):
        s += i

work = {"handoff": handoff, "cpu": cpu}[mode]
ts = [threading.Thread(target=work) for _ in range(threads)]
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0, c0 = time.perf_counter(), time.process_time()
for t in ts: t.start()
for t in ts: t.join()
t1, c1 = time.perf_counter(), time.process_time()
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": t1 - t0, "cpu": c1 - c0, "vcsw": r1.ru_nvcsw - r0.ru_nvcsw, "ivcsw": r1.ru_nivcsw - r0.ru_nivcsw}))
