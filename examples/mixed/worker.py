"""A Python worker for the mixed example: reads JSON jobs on stdin, answers on stdout.

Three threads share the interpreter, so jobs contend for the GIL the way a real worker's do:
  cpu      pure-C work that holds the GIL on-CPU (sum over a range never checks the eval breaker)
  stall    a C call that blocks WITHOUT releasing the GIL (ctypes.PyDLL keeps it): an off-CPU hold,
           the classic "C extension forgot Py_BEGIN_ALLOW_THREADS"
  hash     work that releases the GIL (hashlib on large buffers)
  write    a durable write: write + os.fdatasync (releases the GIL, but is slow on real disks)

Each job runs inside an NVTX range of the domain "mixed: worker" whose payload is the correlation id
the pool sent with it, through gil-nvtx's own Python module (built into the interpreters build-python
makes); `gil-nvtx report` follows it from the Node request to this thread. NVIDIA's `nvtx` package
works the same way, and without either the jobs simply run unmarked.
"""
import ctypes
import hashlib
import json
import os
import queue
import sys
import tempfile
import threading
import time

try:
    import gil_nvtx as nvtx
except ImportError:
    try:
        import nvtx
    except ImportError:
        nvtx = None

THREADS = int(os.environ.get("MIXED_WORKER_THREADS", "3"))
_libc = ctypes.PyDLL(None)  # PyDLL: the GIL stays held during the call
_out_lock = threading.Lock()
_jobs: "queue.Queue[dict | None]" = queue.Queue()
_scratch = tempfile.NamedTemporaryFile(prefix="gil-nvtx-mixed-", delete=True)
_payload = os.urandom(8 << 20)
JOB_DOMAIN = "mixed: worker"
_served_log = os.environ.get("MIXED_WORKER_SERVED_LOG")


def run_marked(job: dict) -> dict:
    correlation = job.get("correlation")
    if nvtx is None or not isinstance(correlation, int) or correlation <= 0:
        return run_job(job)
    with nvtx.annotate(f"job {job.get('kind')}", domain=JOB_DOMAIN, payload=correlation):
        return run_job(job)


def run_job(job: dict) -> dict:
    kind = job.get("kind")
    ms = int(job.get("ms", 50))
    if kind == "cpu":
        # ~20 ns per element on our machines: ms * 50_000 elements is about `ms` milliseconds.
        total = sum(range(ms * 50_000))
        return {"result": total % 1000}
    if kind == "stall":
        _libc.usleep(ms * 1000)
        return {"result": "slept"}
    if kind == "hash":
        digest = hashlib.sha256(_payload).hexdigest()
        return {"result": digest[:8]}
    if kind == "write":
        _scratch.write(b"x" * 4096)
        _scratch.flush()
        os.fdatasync(_scratch.fileno())
        return {"result": "synced"}
    raise ValueError(f"unknown job kind {kind!r}")


def serve() -> None:
    while True:
        job = _jobs.get()
        if job is None:
            return
        start = time.monotonic_ns()
        try:
            reply = {"id": job.get("id"), "ok": True, **run_marked(job)}
        except Exception as exc:  # a bad job is answered, never fatal to the worker
            reply = {"id": job.get("id"), "ok": False, "error": str(exc)}
        end = time.monotonic_ns()
        line = json.dumps(reply) + "\n"
        with _out_lock:
            if _served_log:
                served = {"correlation": job.get("correlation"), "kind": job.get("kind"), "pid": os.getpid(), "tid": threading.get_native_id(), "start": start, "end": end}
                with open(_served_log, "a") as f:
                    f.write(json.dumps(served) + "\n")
            sys.stdout.write(line)
            sys.stdout.flush()


def main() -> None:
    threads = [threading.Thread(target=serve, name=f"job-{i}") for i in range(THREADS)]
    for t in threads:
        t.start()
    for raw in sys.stdin:
        raw = raw.strip()
        if not raw:
            continue
        try:
            _jobs.put(json.loads(raw))
        except json.JSONDecodeError as exc:
            with _out_lock:
                sys.stdout.write(json.dumps({"id": None, "ok": False, "error": f"bad job: {exc}"}) + "\n")
                sys.stdout.flush()
    for _ in threads:
        _jobs.put(None)
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
