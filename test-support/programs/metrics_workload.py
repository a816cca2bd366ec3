"""A workload for the metrics test: GIL holds and waits of known kinds, steered through a control folder.

1. hand-off: two threads, HANDOFFS os.read calls each (every call releases and retakes the GIL);
2. contention: two threads spin on the CPU for a while, so that waiters time out and ask the holder
   to drop the GIL (drop requests);
3. prints `scrape <pid>` and waits for a file named `go` in the control folder (argv[1]);
4. LONG holds of LONG_US each in a C call that keeps the GIL (ctypes.PyDLL usleep), each its own hold
   (a time.sleep in between gives the GIL up), then prints `done` and exits.
"""
import ctypes
import os
import sys
import threading
import time

CTRL = sys.argv[1]
HANDOFFS = 20000
LONG = 3
LONG_US = 40000


def handoff():
    fd = os.open("/dev/zero", os.O_RDONLY)
    for _ in range(HANDOFFS):
        os.read(fd, 1)
    os.close(fd)


def spin():
    end = time.monotonic() + 0.1
    while time.monotonic() < end:
        pass


for target in (handoff, spin):
    threads = [threading.Thread(target=target) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
print("scrape", os.getpid(), flush=True)
while not os.path.exists(os.path.join(CTRL, "go")):
    time.sleep(0.005)
usleep = ctypes.PyDLL(None).usleep
for _ in range(LONG):
    usleep(LONG_US)
    time.sleep(0.002)
print("done", flush=True)
