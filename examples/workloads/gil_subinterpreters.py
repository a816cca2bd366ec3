"""Per-interpreter GILs (3.12+): two threads each run CPU-bound code in their own subinterpreter
(which gets its own GIL) while two threads stay in the main interpreter and contend for the main GIL.
The GIL ranges of different interpreters may overlap; within one GIL they must not.
Uses the private _interpreters module (3.13+) or _xxsubinterpreters (3.12). Prints `sub done`.
"""
import threading

try:
    import _interpreters as interpreters
except ImportError:  # 3.12
    import _xxsubinterpreters as interpreters

CODE = "n = 0\nfor i in range(3_000_000): n += i\n"


def in_subinterpreter():
    iid = interpreters.create()
    try:
        if hasattr(interpreters, "exec"):
            interpreters.exec(iid, CODE)
        else:
            interpreters.run_string(iid, CODE)
    finally:
        interpreters.destroy(iid)


def in_main():
    n = 0
    for i in range(3_000_000):
        n += i


threads = [threading.Thread(target=in_subinterpreter) for _ in range(2)]
threads += [threading.Thread(target=in_main) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("sub done", flush=True)
