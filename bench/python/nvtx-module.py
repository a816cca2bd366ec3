"""Per-call cost of the gil_nvtx module's forms, side by side in one process: prints one JSON object of
ns per call (best of ROUNDS runs of N calls each). Run by nvtx-module.mjs with and without a tool."""
import itertools
import json
import os
import sys
import time

import gil_nvtx

N = int(os.environ.get("BENCH_N", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def best(loop):
    loop(1000)
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter_ns()
        loop(N)
        times.append(time.perf_counter_ns() - t0)
    return min(times) / N


def modules():
    yield "gil_nvtx", gil_nvtx
    try:
        import nvtx  # NVIDIA's package, when installed: the same calls, for comparison

        yield "nvtx", nvtx
    except ImportError:
        pass


def plain():
    pass


def cases(m):
    ctx = m.annotate("ctx", domain="bench")

    @m.annotate("decorated", domain="bench")
    def decorated():
        pass

    def push_pop(n):
        for _ in itertools.repeat(None, n):
            m.push_range("pushed", domain="bench")
            m.pop_range(domain="bench")

    def push_pop_payload(n):
        for _ in itertools.repeat(None, n):
            m.push_range("pushed", domain="bench", color="red", category="c", payload=7)
            m.pop_range(domain="bench")

    def with_annotate(n):
        for _ in itertools.repeat(None, n):
            with ctx:
                pass

    def decorated_call(n):
        for _ in itertools.repeat(None, n):
            decorated()

    def mark(n):
        for _ in itertools.repeat(None, n):
            m.mark("marked", domain="bench", payload=3)

    return {"push+pop": push_pop, "push+pop, color/category/payload": push_pop_payload,
            "with annotate": with_annotate, "decorated call": decorated_call, "mark": mark}


def empty(n):
    for _ in itertools.repeat(None, n):
        pass


def plain_calls(n):
    for _ in itertools.repeat(None, n):
        plain()


out = {"python": sys.version.split()[0], "empty loop": best(empty), "plain call": best(plain_calls)}
for name, m in modules():
    for case, loop in cases(m).items():
        out[f"{name}: {case}"] = best(loop)
print(json.dumps(out))
