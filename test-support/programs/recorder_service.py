"""A service for the flight-recorder tests, steered through files in a control folder.

Two worker threads hand the GIL back and forth until told to quit. The main thread runs the commands
it finds as files `<n>-<command>` in the folder (argv[1]), in order of n, each once:
  stall       hold the GIL 200 ms in a C call (ctypes.PyDLL usleep); prints `stall <pid> <t0> <t1>`
  fork-stall  the same in a fork child (os.fork), which then _exits
  exec-stall  the same in a new interpreter (subprocess: fork + exec)
  ping        prints `pong <n>`
  quit        stops the workers, prints `done <cycles>`, exits 0
Prints `ready <pid>` when the workers run.
"""
import ctypes
import os
import subprocess
import sys
import threading
import time

CTRL = sys.argv[1]
# The short sleep first: a fork child holds the GIL it forked with, and a hold the watchdog can see
# starts with a GIL transition.
STALL = "import ctypes, os, time\nu = ctypes.PyDLL(None).usleep\ntime.sleep(0.01)\nt0 = time.monotonic_ns(); u(200000)\nprint('stall', os.getpid(), t0, time.monotonic_ns(), flush=True)\n"
stop = False
cycles = [0, 0]


def work(k):
    fd = os.open("/dev/zero", os.O_RDONLY)
    while not stop:
        for _ in range(50):
            os.read(fd, 1)
        cycles[k] += 50
        time.sleep(0.002)


def stall():
    exec(STALL, {})


threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
for t in threads:
    t.start()
print("ready", os.getpid(), flush=True)
done = set()
while True:
    names = sorted((n for n in os.listdir(CTRL) if n not in done), key=lambda n: int(n.split("-", 1)[0]))
    if not names:
        time.sleep(0.01)
        continue
    name = names[0]
    done.add(name)
    n, cmd = name.split("-", 1)
    if cmd == "stall":
        stall()
    elif cmd == "fork-stall":
        pid = os.fork()
        if pid == 0:
            stall()
            os._exit(0)
        os.waitpid(pid, 0)
    elif cmd == "exec-stall":
        subprocess.run([sys.executable, "-c", STALL], check=True)
    elif cmd == "ping":
        print("pong", n, flush=True)
    elif cmd == "quit":
        stop = True
        for t in threads:
            t.join()
        print("done", sum(cycles), flush=True)
        sys.exit(0)
