/* Drives the hook macros of patches/src/ceval_gil_nvtx.h outside CPython, so their contract can be
   tested without building an interpreter: errno survives every hook, PYTHON_GIL_NVTX=0 disables,
   the macros compile to nothing without -DPY_NVTX_GIL. Prints "state=<n> errno=<ok|clobbered>". */
#include <errno.h>
#include <stdio.h>
#include "ceval_gil_nvtx.h"

static int gil_a, gil_b;

int
main(void)
{
    int ok = 1;
    (void)gil_a;
    (void)gil_b;
#define KEEP(stmt) do { errno = 4242; stmt; if (errno != 4242) ok = 0; } while (0)
    for (int i = 0; i < 3; i++) {
        KEEP(_PyGIL_NVTX_WAIT_BEGIN(0, 0));
        KEEP(_PyGIL_NVTX_DROP_REQUEST(0, 0));
        KEEP(_PyGIL_NVTX_HOLD_BEGIN(&gil_a, 0, 0));
        KEEP(_PyGIL_NVTX_WAIT_BEGIN(1, 1));
        KEEP(_PyGIL_NVTX_HOLD_BEGIN(&gil_b, 1, 1));
        KEEP(_PyGIL_NVTX_HOLD_END(&gil_a));
        KEEP(_PyGIL_NVTX_HOLD_END(&gil_b));
        KEEP(_PyGIL_NVTX_WAIT_BEGIN(0, 0));
        KEEP(_PyGIL_NVTX_WAIT_END());
    }
    KEEP(_PyGIL_NVTX_FORK_CHILD());
#ifdef PY_NVTX_GIL
    printf("state=%d held=%d errno=%s version=%s\n", _PY_GIL_NVTX_STATE(), _py_gil_nvtx_nheld, ok ? "ok" : "clobbered", _Py_gil_nvtx_version);
#else
    printf("state=none errno=%s\n", ok ? "ok" : "clobbered");
#endif
    return 0;
}
