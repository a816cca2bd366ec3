/* Drives the hook macros of patches/src/ceval_gil_nvtx.h outside CPython, so their contract can be
   tested without building an interpreter: errno survives every hook, PYTHON_GIL_NVTX=0 disables,
   the macros compile to nothing without -DPY_NVTX_GIL, and the location marks name the frames they
   should. Prints "state=<n> errno=<ok|clobbered>".

   The stand-in below is the little of CPython 3.9's API the header's location code touches (frame
   objects, code objects, compact strings), shaped like the real thing. */
#define _POSIX_C_SOURCE 200809L   /* as CPython's pyconfig.h does: clock_gettime under -std=c99/c11 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PY_VERSION_HEX 0x03090000
typedef long Py_ssize_t;
typedef uint32_t Py_UCS4;
typedef uint16_t _Py_CODEUNIT;
typedef struct { const char *text; } PyObject;
typedef struct { PyObject *co_name; PyObject *co_filename; int co_firstlineno; } PyCodeObject;
typedef struct _frame { struct _frame *f_back; PyCodeObject *f_code; int f_lasti; } PyFrameObject;
typedef struct { PyFrameObject *frame; } PyThreadState;
#define PyUnicode_Check(s) ((s) != NULL)
#define PyUnicode_IS_READY(s) 1
#define PyUnicode_KIND(s) 1
#define PyUnicode_DATA(s) ((const void *)((PyObject *)(s))->text)
#define PyUnicode_GET_LENGTH(s) ((Py_ssize_t)strlen(((PyObject *)(s))->text))
#define PyUnicode_READ(kind, data, i) ((void)(kind), (Py_UCS4)((const unsigned char *)(data))[i])
/* Two bytes of bytecode per line, as if every instruction were a line of its own. */
static __attribute__((unused)) int PyCode_Addr2Line(PyCodeObject *co, int addr) { return addr < 0 ? co->co_firstlineno : co->co_firstlineno + addr / 2; }

#include "ceval_gil_nvtx.h"

static PyObject name_outer = {"outer"}, name_inner = {"inner"}, file_probe = {"/probe/probe.py"};
static PyCodeObject code_outer = {&name_outer, &file_probe, 10}, code_inner = {&name_inner, &file_probe, 20};

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
        KEEP(_PyGIL_NVTX_HOLD_BEGIN(&gil_a, NULL, 0, 0));
        KEEP(_PyGIL_NVTX_WAIT_BEGIN(1, 1));
        KEEP(_PyGIL_NVTX_HOLD_BEGIN(&gil_b, NULL, 1, 1));
        KEEP(_PyGIL_NVTX_HOLD_END(&gil_a, NULL));
        KEEP(_PyGIL_NVTX_HOLD_END(&gil_b, NULL));
        KEEP(_PyGIL_NVTX_WAIT_BEGIN(0, 0));
        KEEP(_PyGIL_NVTX_WAIT_END());
    }
    /* Locations (marks only when PYTHON_GIL_NVTX_LOCATION_MS lets holds this short have them):
       a hold taken in outer() at line 13 and released in inner() at line 25, called from it... */
    PyFrameObject outer = {NULL, &code_outer, 6}, inner = {&outer, &code_inner, 10};
    PyThreadState ts = {&outer};
    (void)ts;
    KEEP(_PyGIL_NVTX_WAIT_BEGIN(0, 0));
    KEEP(_PyGIL_NVTX_HOLD_BEGIN(&gil_a, &ts, 0, 0));
    ts.frame = &inner;
    KEEP(_PyGIL_NVTX_HOLD_END(&gil_a, &ts));
    /* ...and one taken in inner(), which returned before the hold ended: no "taken" mark, because
       its code object can no longer be proven alive; released in outer() at line 14. */
    KEEP(_PyGIL_NVTX_WAIT_BEGIN(0, 0));
    KEEP(_PyGIL_NVTX_HOLD_BEGIN(&gil_a, &ts, 0, 0));
    ts.frame = &outer;
    outer.f_lasti = 8;
    KEEP(_PyGIL_NVTX_HOLD_END(&gil_a, &ts));
    KEEP(_PyGIL_NVTX_FORK_CHILD());
#ifdef PY_NVTX_GIL
    printf("state=%d held=%d errno=%s version=%s\n", _PY_GIL_NVTX_STATE(), _py_gil_nvtx_nheld, ok ? "ok" : "clobbered", _Py_gil_nvtx_version);
#else
    printf("state=none errno=%s\n", ok ? "ok" : "clobbered");
#endif
    return 0;
}
