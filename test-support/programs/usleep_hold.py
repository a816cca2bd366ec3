# One thread holds the GIL for 200 ms inside a C call (ctypes.PyDLL keeps the GIL during the call)
# while two CPU-bound threads want it. Writes "<role> <native thread id>" lines to the file named by
# argv[1], so a test can tell the threads apart on interpreters that give them no OS names.
import ctypes
import sys
import threading

libc = ctypes.PyDLL(None)
ready = threading.Barrier(3)
done = False


def holder():
    ready.wait()
    libc.usleep(200000)
    global done
    done = True


def spinner():
    ready.wait()
    n = 0
    while not done:
        n += 1


threads = [threading.Thread(target=holder, name="holder")] + [
    threading.Thread(target=spinner, name=f"spinner-{i}") for i in range(2)
]
for t in threads:
    t.start()
with open(sys.argv[1], "w") as out:
    for t in threads:
        out.write(f"{t.name} {t.native_id}\n")
for t in threads:
    t.join()
