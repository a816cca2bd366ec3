/* gil-nvtx: NVTX ranges for the CPython GIL ("Waiting for GIL", "Holding GIL").
 *
 * This file is the single source of truth for every patches/cpython-3.*.patch: the generator
 * (scripts/python/make-patches.mjs) adds it to the tree as Python/ceval_gil_nvtx.h and puts one
 * macro call at each hook point of Python/ceval_gil.{h,c}. Without -DPY_NVTX_GIL every macro
 * expands to nothing. Semantics (see docs/gil-patches.md):
 *   Waiting = take_gil entry (after the must-exit check) until gil->locked becomes 1;
 *   Holding = from then until drop_gil sets gil->locked to 0.
 * Both transitions happen inside gil->mutex, so the Holding ranges of one GIL never overlap.
 *
 * Hook macros (one line each in ceval_gil):
 *   _PyGIL_NVTX_WAIT_BEGIN(interp_id, gil_id)        W+   before take_gil locks gil->mutex
 *   _PyGIL_NVTX_WAIT_END()                           W-x  before exit/hang while waiting;
 *                                                    W-d  free-threaded "disabled while waiting" return
 *   _PyGIL_NVTX_HOLD_BEGIN(gil, tstate, interp_id, gil_id)  W-/H+ right after gil->locked = 1
 *   _PyGIL_NVTX_HOLD_END(gil, tstate)                H-   right before gil->locked = 0 (tstate may be NULL)
 *   _PyGIL_NVTX_DROP_REQUEST(interp_id, gil_id)      M    the waiter asks the holder to drop
 *   _PyGIL_NVTX_FORK_CHILD()                         F    top of recreate_gil: forget inherited ranges
 *
 * Why it looks like this:
 *  - State lives in thread-locals and file statics only: no struct layout changes (py-spy, Austin).
 *  - Start/end ranges with ids kept per thread: a fork child (F) or nsys' per-process stacks never
 *    see an unmatched pop, and the range survives being ended in a different call chain.
 *  - A thread can hold more than one GIL (3.12+ own-GIL subinterpreters), so holds are kept in a
 *    tiny per-thread stack keyed by the GIL's address; H- ends the one that belongs to its GIL.
 *  - errno is saved around every NVTX call: drop_gil does not preserve it, and NVTX's first call
 *    runs getenv/dlopen.
 *  - Only registered strings and prebuilt attributes are used under gil->mutex, except for the
 *    location marks below, which only long holds and waits pay for.
 *
 * Where, in Python (locations). A hold or wait that lasted at least PYTHON_GIL_NVTX_LOCATION_MS
 * (default 1 ms; 0 = every one; "off" = none) is followed by ASCII marks in the same domain and
 * category, emitted by the thread itself while it holds the GIL, so that they fall inside its hold:
 *   "GIL wait at <function> (<file>:<line>)"      where the thread was when it began to wait
 *   "GIL taken at <function> (<file>:<line>)"     where the hold began (the same frame as the wait)
 *   "GIL released at <function> (<file>:<line>)"  where it ended
 * with the range id of the wait or hold as payload. Frames are read only by the thread that holds
 * the GIL (at H+ and H-, where gil->locked is 1 and the thread is its holder), never from another
 * thread. The start of a hold is kept as (frame, code object, instruction offset) without a
 * reference: at H- it is used only if that frame is still on the thread's stack running the same
 * code object, which keeps the code object alive; otherwise the "taken at" mark is left out. The
 * cost of a short hold is three clock reads (the TSC on x86-64, else vDSO clock_gettime; no system
 * call) and a few loads.
 */
#ifndef Py_CEVAL_GIL_NVTX_H
#define Py_CEVAL_GIL_NVTX_H

#ifdef PY_NVTX_GIL

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <nvtx3/nvToolsExt.h>
#if PY_VERSION_HEX >= 0x030E0000
#  include "pycore_interpframe.h"   /* _PyInterpreterFrame and its accessors moved here in 3.14 */
#elif PY_VERSION_HEX >= 0x030B0000
#  include "pycore_frame.h"
#endif

#define _PY_GIL_NVTX_VERSION "gil-nvtx 1"
#define _PY_GIL_NVTX_MAX_HELD 4

#if defined(_Py_thread_local)
#  define _PY_GIL_NVTX_TLS _Py_thread_local
#elif defined(_MSC_VER)
#  define _PY_GIL_NVTX_TLS __declspec(thread)
#else
#  define _PY_GIL_NVTX_TLS __thread
#endif

/* Visible to tools (nm, ctypes.pythonapi) so they can tell that this build is patched. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((visibility("default"), used))
#endif
const char _Py_gil_nvtx_version[] = _PY_GIL_NVTX_VERSION;

/* 0 = not yet initialised, 2 = being initialised, 1 = on, -1 = off (PYTHON_GIL_NVTX=0), 3 = no NVTX
   tool attached. The first take_gil normally runs single-threaded in _PyEval_InitGIL; a free-threaded
   build whose GIL starts disabled may first get here from several threads at once, hence the
   compare-and-swap. */
static int _py_gil_nvtx_state = 0;
#if defined(__GNUC__) || defined(__clang__)
#  define _PY_GIL_NVTX_STATE() __atomic_load_n(&_py_gil_nvtx_state, __ATOMIC_ACQUIRE)
#  define _PY_GIL_NVTX_SET_STATE(v) __atomic_store_n(&_py_gil_nvtx_state, (v), __ATOMIC_RELEASE)
#  define _PY_GIL_NVTX_CLAIM_INIT() \
       __atomic_compare_exchange_n(&_py_gil_nvtx_state, &(int){0}, 2, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#else
#  define _PY_GIL_NVTX_STATE() (_py_gil_nvtx_state)
#  define _PY_GIL_NVTX_SET_STATE(v) (_py_gil_nvtx_state = (v))
#  define _PY_GIL_NVTX_CLAIM_INIT() (_py_gil_nvtx_state == 0 ? (_py_gil_nvtx_state = 2, 1) : 0)
#endif
static nvtxDomainHandle_t _py_gil_nvtx_domain;
static nvtxEventAttributes_t _py_gil_nvtx_wait_attr;
static nvtxEventAttributes_t _py_gil_nvtx_hold_attr;
static nvtxEventAttributes_t _py_gil_nvtx_drop_attr;
static nvtxEventAttributes_t _py_gil_nvtx_where_attr;
/* Holds and waits at least this long get location marks, in _py_gil_nvtx_now()'s units; -1 = never. */
static int64_t _py_gil_nvtx_where_ticks = -1;

static _PY_GIL_NVTX_TLS nvtxRangeId_t _py_gil_nvtx_wait_id;
static _PY_GIL_NVTX_TLS int _py_gil_nvtx_nheld;
static _PY_GIL_NVTX_TLS const void *_py_gil_nvtx_held_gil[_PY_GIL_NVTX_MAX_HELD];
static _PY_GIL_NVTX_TLS nvtxRangeId_t _py_gil_nvtx_held_id[_PY_GIL_NVTX_MAX_HELD];

/* A frame as the thread saw it: compared, never dereferenced, until proven live (see above). */
typedef struct {
    const void *frame;
    PyCodeObject *code;
    int addr;                       /* byte offset of the current instruction, -1 = not started */
} _py_gil_nvtx_where_t;

static _PY_GIL_NVTX_TLS int64_t _py_gil_nvtx_wait_t0;     /* when the last wait began (_py_gil_nvtx_now) */
static _PY_GIL_NVTX_TLS int64_t _py_gil_nvtx_hold_t0;     /* when the last hold began */
static _PY_GIL_NVTX_TLS const void *_py_gil_nvtx_hold_gil; /* ... of this GIL */
static _PY_GIL_NVTX_TLS uint32_t _py_gil_nvtx_hold_gil_id;  /* ... and its category */
static _PY_GIL_NVTX_TLS _py_gil_nvtx_where_t _py_gil_nvtx_hold_where;

static void
_py_gil_nvtx_attr(nvtxEventAttributes_t *attr, const char *message, uint32_t argb)
{
    memset(attr, 0, sizeof(*attr));
    attr->version = NVTX_VERSION;
    attr->size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    attr->colorType = NVTX_COLOR_ARGB;
    attr->color = argb;
    attr->payloadType = NVTX_PAYLOAD_TYPE_UNSIGNED_INT64;
    attr->messageType = NVTX_MESSAGE_TYPE_REGISTERED;
    attr->message.registered = nvtxDomainRegisterStringA(_py_gil_nvtx_domain, message);
}

/* Creates the domain and registers the strings. Also run in a fork child: nsys (2022.4) drops every
   event of a child that uses string handles registered only in its parent. */
static void
_py_gil_nvtx_register(void)
{
    _py_gil_nvtx_domain = nvtxDomainCreateA("CPython GIL");
    _py_gil_nvtx_attr(&_py_gil_nvtx_wait_attr, "Waiting for GIL", 0xFFD9534Fu);
    _py_gil_nvtx_attr(&_py_gil_nvtx_hold_attr, "Holding GIL", 0xFF5CB85Cu);
    _py_gil_nvtx_attr(&_py_gil_nvtx_drop_attr, "GIL drop request", 0xFFF0AD4Eu);
    _py_gil_nvtx_attr(&_py_gil_nvtx_where_attr, "GIL location", 0xFF5BC0DEu);
    _py_gil_nvtx_where_attr.messageType = NVTX_MESSAGE_TYPE_ASCII;
    _py_gil_nvtx_where_attr.message.ascii = NULL;
}

/* PYTHON_GIL_NVTX_LOCATION_MS: unset = 1 ms, "off" = never, else a number of milliseconds >= 0.
   Anything else keeps the default: the interpreter has no good way to refuse an environment. */
static int64_t
_py_gil_nvtx_parse_location_ms(const char *text)
{
    if (text == NULL || *text == '\0') {
        return 1000000;
    }
    if (strcmp(text, "off") == 0) {
        return -1;
    }
    char *end = NULL;
    double ms = strtod(text, &end);
    if (end == text || *end != '\0' || !(ms >= 0.0) || ms > 3.6e6) {
        return 1000000;
    }
    return (int64_t)(ms * 1e6);
}

static int64_t
_py_gil_nvtx_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The location threshold is compared three times per wait+hold, so on x86-64 it is kept in TSC
   ticks (a third of a vDSO clock_gettime here); elsewhere in ns. The TSC only decides which holds
   get marks (the tool timestamps every event itself): a skewed TSC can cost a mark, never an event. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#  include <x86intrin.h>
#  define _py_gil_nvtx_now() ((int64_t)__rdtsc())
/* Ticks per ns from a 200 us spin at the first GIL acquisition (tool attached only). */
static int64_t
_py_gil_nvtx_threshold_ticks(int64_t ns)
{
    if (ns <= 0) {
        return ns;
    }
    int64_t t0 = _py_gil_nvtx_now_ns(), c0 = _py_gil_nvtx_now(), t1;
    do {
        t1 = _py_gil_nvtx_now_ns();
    } while (t1 - t0 < 200000);
    double per_ns = (double)(_py_gil_nvtx_now() - c0) / (double)(t1 - t0);
    return per_ns > 0.0 ? (int64_t)((double)ns * per_ns) : ns;
}
#else
#  define _py_gil_nvtx_now() _py_gil_nvtx_now_ns()
#  define _py_gil_nvtx_threshold_ticks(ns) (ns)
#endif

/* ---- frame access, the only version-specific part of the locations ---- */

#if PY_VERSION_HEX >= 0x030B0000
typedef _PyInterpreterFrame _py_gil_nvtx_frame_t;
#else
typedef PyFrameObject _py_gil_nvtx_frame_t;
#endif

static inline _py_gil_nvtx_frame_t *
_py_gil_nvtx_top_frame(PyThreadState *tstate)
{
#if PY_VERSION_HEX >= 0x030D0000
    return tstate->current_frame;
#elif PY_VERSION_HEX >= 0x030B0000
    return tstate->cframe == NULL ? NULL : tstate->cframe->current_frame;
#else
    return tstate->frame;
#endif
}

static inline _py_gil_nvtx_frame_t *
_py_gil_nvtx_caller(_py_gil_nvtx_frame_t *f)
{
#if PY_VERSION_HEX >= 0x030B0000
    return f->previous;
#else
    return f->f_back;
#endif
}

/* The code object a frame runs, or NULL for frames that run none yet (C-stack entry frames,
   interpreter sentinels, frames still being set up). */
static inline PyCodeObject *
_py_gil_nvtx_code_of(_py_gil_nvtx_frame_t *f)
{
#if PY_VERSION_HEX >= 0x030E0000
    if (f->owner >= FRAME_OWNED_BY_INTERPRETER) {
        return NULL;
    }
    PyObject *executable = PyStackRef_AsPyObjectBorrow(f->f_executable);
    if (executable == NULL || !PyCode_Check(executable) || _PyFrame_IsIncomplete(f)) {
        return NULL;
    }
    return (PyCodeObject *)executable;
#elif PY_VERSION_HEX >= 0x030D0000
    if (f->owner == FRAME_OWNED_BY_CSTACK || f->f_executable == NULL || !PyCode_Check(f->f_executable)
        || _PyFrame_IsIncomplete(f)) {
        return NULL;
    }
    return (PyCodeObject *)f->f_executable;
#elif PY_VERSION_HEX >= 0x030C0000
    if (f->owner == FRAME_OWNED_BY_CSTACK || f->f_code == NULL || _PyFrame_IsIncomplete(f)) {
        return NULL;
    }
    return f->f_code;
#elif PY_VERSION_HEX >= 0x030B0000
    if (f->f_code == NULL || _PyFrame_IsIncomplete(f)) {
        return NULL;
    }
    return f->f_code;
#else
    return f->f_code;
#endif
}

/* Byte offset of the instruction the frame is at (what PyCode_Addr2Line takes), -1 = none yet. */
static inline int
_py_gil_nvtx_addr_of(_py_gil_nvtx_frame_t *f)
{
#if PY_VERSION_HEX >= 0x030B0000
    return _PyInterpreterFrame_LASTI(f) * (int)sizeof(_Py_CODEUNIT);
#elif PY_VERSION_HEX >= 0x030A0000
    return f->f_lasti < 0 ? -1 : f->f_lasti * (int)sizeof(_Py_CODEUNIT);  /* 3.10 counts code units */
#else
    return f->f_lasti;                                                       /* 3.9 counts bytes */
#endif
}

/* The innermost frame that runs Python code; the depth limit only guards against a corrupt chain. */
static int
_py_gil_nvtx_where_now(PyThreadState *tstate, _py_gil_nvtx_where_t *w)
{
    _py_gil_nvtx_frame_t *f = tstate == NULL ? NULL : _py_gil_nvtx_top_frame(tstate);
    for (int depth = 0; f != NULL && depth < 16; depth++, f = _py_gil_nvtx_caller(f)) {
        PyCodeObject *code = _py_gil_nvtx_code_of(f);
        if (code != NULL) {
            w->frame = f;
            w->code = code;
            w->addr = _py_gil_nvtx_addr_of(f);
            return 1;
        }
    }
    w->frame = NULL;
    w->code = NULL;
    return 0;
}

/* Whether a recorded frame is still on the thread's stack running the same code object. */
static int
_py_gil_nvtx_where_live(PyThreadState *tstate, const _py_gil_nvtx_where_t *w)
{
    if (w->frame == NULL || tstate == NULL) {
        return 0;
    }
    _py_gil_nvtx_frame_t *f = _py_gil_nvtx_top_frame(tstate);
    for (int depth = 0; f != NULL && depth < 256; depth++, f = _py_gil_nvtx_caller(f)) {
        if ((const void *)f == w->frame) {
            return _py_gil_nvtx_code_of(f) == w->code;
        }
    }
    return 0;
}

/* Appends a str as UTF-8 without allocating (no PyUnicode_AsUTF8: it may allocate and raise).
   Only the last `keep` characters are written, after "...", when the string is longer. */
static size_t
_py_gil_nvtx_put_str(char *buf, size_t cap, size_t n, PyObject *s, Py_ssize_t keep)
{
    if (s == NULL || !PyUnicode_Check(s)
#if PY_VERSION_HEX < 0x030C0000
        || !PyUnicode_IS_READY(s)
#endif
    ) {
        if (n + 1 < cap) buf[n++] = '?';
        return n;
    }
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    Py_ssize_t len = PyUnicode_GET_LENGTH(s);
    Py_ssize_t i = 0;
    if (len > keep) {
        i = len - keep;
        for (const char *d = "..."; *d && n + 1 < cap; d++) buf[n++] = *d;
    }
    for (; i < len; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        unsigned char out[4];
        int k;
        if (c < 0x80) { out[0] = (unsigned char)c; k = 1; }
        else if (c < 0x800) { out[0] = 0xC0 | (c >> 6); out[1] = 0x80 | (c & 0x3F); k = 2; }
        else if (c < 0x10000) {
            if (c >= 0xD800 && c <= 0xDFFF) c = '?';       /* lone surrogates are not UTF-8 */
            if (c == '?') { out[0] = '?'; k = 1; }
            else { out[0] = 0xE0 | (c >> 12); out[1] = 0x80 | ((c >> 6) & 0x3F); out[2] = 0x80 | (c & 0x3F); k = 3; }
        }
        else { out[0] = 0xF0 | (c >> 18); out[1] = 0x80 | ((c >> 12) & 0x3F); out[2] = 0x80 | ((c >> 6) & 0x3F); out[3] = 0x80 | (c & 0x3F); k = 4; }
        if (n + (size_t)k >= cap) break;
        memcpy(buf + n, out, (size_t)k);
        n += (size_t)k;
    }
    return n;
}

static size_t
_py_gil_nvtx_put_int(char *buf, size_t cap, size_t n, long v)
{
    char digits[24];
    int k = 0;
    int neg = v < 0;
    unsigned long u = neg ? 0UL - (unsigned long)v : (unsigned long)v;
    do { digits[k++] = (char)('0' + u % 10); u /= 10; } while (u != 0 && k < 22);
    if (neg) digits[k++] = '-';
    while (k > 0 && n + 1 < cap) buf[n++] = digits[--k];
    return n;
}

/* "<what> at <function> (<file>:<line>)" as an ASCII-typed mark carrying the range id. The code
   object is alive: it belongs to a frame on the calling thread's stack, and that thread holds the
   GIL. PyCode_Addr2Line only walks the line table. */
static void
_py_gil_nvtx_mark_where(const char *what, const _py_gil_nvtx_where_t *w, uint32_t gil_id, nvtxRangeId_t range)
{
    char buf[512];
    size_t n = 0;
    PyCodeObject *co = w->code;
    for (const char *c = what; *c && n + 1 < sizeof buf; c++) buf[n++] = *c;
    for (const char *c = " at "; *c && n + 1 < sizeof buf; c++) buf[n++] = *c;
#if PY_VERSION_HEX >= 0x030B0000
    n = _py_gil_nvtx_put_str(buf, sizeof buf, n, co->co_qualname, 120);
#else
    n = _py_gil_nvtx_put_str(buf, sizeof buf, n, co->co_name, 120);
#endif
    if (n + 2 < sizeof buf) { buf[n++] = ' '; buf[n++] = '('; }
    n = _py_gil_nvtx_put_str(buf, sizeof buf, n, co->co_filename, 300);
    if (n + 1 < sizeof buf) buf[n++] = ':';
    n = _py_gil_nvtx_put_int(buf, sizeof buf, n, (long)PyCode_Addr2Line(co, w->addr));
    if (n + 1 < sizeof buf) buf[n++] = ')';
    buf[n] = '\0';
    nvtxEventAttributes_t attr = _py_gil_nvtx_where_attr;
    attr.message.ascii = buf;
    attr.category = gil_id;
    attr.payload.ullValue = (uint64_t)range;
    nvtxDomainMarkEx(_py_gil_nvtx_domain, &attr);
}

static void
_py_gil_nvtx_init(void)
{
    int saved_errno = errno;
    const char *env = getenv("PYTHON_GIL_NVTX");
    if (env != NULL && strcmp(env, "0") == 0) {
        _PY_GIL_NVTX_SET_STATE(-1);
    }
    else {
        _py_gil_nvtx_register();
        /* NVTX loads its tool once, at this first call, and without one every call returns a NULL
           handle. Nothing can record for the rest of the process then, so each hook stops at its
           state test instead of building attributes and calling NVTX's no-op stubs per transition. */
        int no_tool = _py_gil_nvtx_domain == NULL
                      && _py_gil_nvtx_wait_attr.message.registered == NULL
                      && _py_gil_nvtx_hold_attr.message.registered == NULL
                      && _py_gil_nvtx_drop_attr.message.registered == NULL;
        if (!no_tool) {
            _py_gil_nvtx_where_ticks = _py_gil_nvtx_threshold_ticks(
                _py_gil_nvtx_parse_location_ms(getenv("PYTHON_GIL_NVTX_LOCATION_MS")));
        }
        _PY_GIL_NVTX_SET_STATE(no_tool ? 3 : 1);
    }
    errno = saved_errno;
}

static inline void
_py_gil_nvtx_wait_begin(uint64_t interp_id, uint32_t gil_id)
{
    int state = _PY_GIL_NVTX_STATE();
    if (state == 0 && _PY_GIL_NVTX_CLAIM_INIT()) {
        _py_gil_nvtx_init();
        state = _PY_GIL_NVTX_STATE();
    }
    if (state != 1) {
        return;
    }
    int saved_errno = errno;
    nvtxEventAttributes_t attr = _py_gil_nvtx_wait_attr;
    attr.payload.ullValue = interp_id;
    attr.category = gil_id;
    _py_gil_nvtx_wait_id = nvtxDomainRangeStartEx(_py_gil_nvtx_domain, &attr);
    if (_py_gil_nvtx_where_ticks >= 0) {
        _py_gil_nvtx_wait_t0 = _py_gil_nvtx_now();
    }
    errno = saved_errno;
}

static inline void
_py_gil_nvtx_wait_end(void)
{
    if (_py_gil_nvtx_wait_id == 0 || _PY_GIL_NVTX_STATE() != 1) {
        return;
    }
    int saved_errno = errno;
    nvtxDomainRangeEnd(_py_gil_nvtx_domain, _py_gil_nvtx_wait_id);
    _py_gil_nvtx_wait_id = 0;
    errno = saved_errno;
}

static inline void
_py_gil_nvtx_hold_begin(const void *gil, PyThreadState *tstate, uint64_t interp_id, uint32_t gil_id)
{
    if (_PY_GIL_NVTX_STATE() != 1) {
        return;
    }
    int saved_errno = errno;
    nvtxRangeId_t wait_id = _py_gil_nvtx_wait_id;
    if (wait_id != 0) {
        nvtxDomainRangeEnd(_py_gil_nvtx_domain, wait_id);
        _py_gil_nvtx_wait_id = 0;
    }
    nvtxEventAttributes_t attr = _py_gil_nvtx_hold_attr;
    attr.payload.ullValue = interp_id;
    attr.category = gil_id;
    nvtxRangeId_t id = nvtxDomainRangeStartEx(_py_gil_nvtx_domain, &attr);
    /* Only a program juggling more than _PY_GIL_NVTX_MAX_HELD GILs on one thread gets here; the
       range is then left to the tool's end-of-process handling rather than mis-paired. */
    if (_py_gil_nvtx_nheld < _PY_GIL_NVTX_MAX_HELD) {
        _py_gil_nvtx_held_gil[_py_gil_nvtx_nheld] = gil;
        _py_gil_nvtx_held_id[_py_gil_nvtx_nheld] = id;
        _py_gil_nvtx_nheld++;
    }
    if (_py_gil_nvtx_where_ticks >= 0) {
        /* The thread holds the GIL from here on: its frames are safe to read. The wait and the hold
           begin in the same frame (the thread sat in take_gil in between). */
        int64_t now = _py_gil_nvtx_now();
        _py_gil_nvtx_hold_t0 = now;
        _py_gil_nvtx_hold_gil = gil;
        _py_gil_nvtx_hold_gil_id = gil_id;
        if (_py_gil_nvtx_where_now(tstate, &_py_gil_nvtx_hold_where)
            && wait_id != 0 && now - _py_gil_nvtx_wait_t0 >= _py_gil_nvtx_where_ticks) {
            _py_gil_nvtx_mark_where("GIL wait", &_py_gil_nvtx_hold_where, gil_id, wait_id);
        }
    }
    errno = saved_errno;
}

/* Location marks of a long hold, emitted by the holder right before the hold ends. */
static void
_py_gil_nvtx_mark_hold(PyThreadState *tstate, uint32_t gil_id, nvtxRangeId_t id)
{
    _py_gil_nvtx_where_t now;
    if (_py_gil_nvtx_where_live(tstate, &_py_gil_nvtx_hold_where)) {
        _py_gil_nvtx_mark_where("GIL taken", &_py_gil_nvtx_hold_where, gil_id, id);
    }
    if (_py_gil_nvtx_where_now(tstate, &now)) {
        _py_gil_nvtx_mark_where("GIL released", &now, gil_id, id);
    }
}

static inline void
_py_gil_nvtx_hold_end(const void *gil, PyThreadState *tstate)
{
    if (_PY_GIL_NVTX_STATE() != 1) {
        return;
    }
    for (int i = _py_gil_nvtx_nheld - 1; i >= 0; i--) {
        if (_py_gil_nvtx_held_gil[i] == gil) {
            int saved_errno = errno;
            if (_py_gil_nvtx_where_ticks >= 0 && _py_gil_nvtx_hold_gil == gil && tstate != NULL
                && _py_gil_nvtx_now() - _py_gil_nvtx_hold_t0 >= _py_gil_nvtx_where_ticks) {
                _py_gil_nvtx_mark_hold(tstate, _py_gil_nvtx_hold_gil_id, _py_gil_nvtx_held_id[i]);
            }
            nvtxDomainRangeEnd(_py_gil_nvtx_domain, _py_gil_nvtx_held_id[i]);
            for (int j = i + 1; j < _py_gil_nvtx_nheld; j++) {
                _py_gil_nvtx_held_gil[j - 1] = _py_gil_nvtx_held_gil[j];
                _py_gil_nvtx_held_id[j - 1] = _py_gil_nvtx_held_id[j];
            }
            _py_gil_nvtx_nheld--;
            _py_gil_nvtx_hold_gil = NULL;
            errno = saved_errno;
            return;
        }
    }
}

static inline void
_py_gil_nvtx_drop_request(uint64_t interp_id, uint32_t gil_id)
{
    if (_PY_GIL_NVTX_STATE() != 1) {
        return;
    }
    int saved_errno = errno;
    nvtxEventAttributes_t attr = _py_gil_nvtx_drop_attr;
    attr.payload.ullValue = interp_id;
    attr.category = gil_id;
    nvtxDomainMarkEx(_py_gil_nvtx_domain, &attr);
    errno = saved_errno;
}

/* The fork child inherits the forking thread's thread-locals, which say "Holding". recreate_gil
   sets gil->locked to 0 without drop_gil, so forget those ranges without ending them (their ids
   belong to the parent's ranges; the child's take_gil starts fresh ones), and register the domain
   and strings again for the child's own tool session. recreate_gil runs only in the child, while
   it is still single-threaded. */
static inline void
_py_gil_nvtx_fork_child(void)
{
    _py_gil_nvtx_wait_id = 0;
    _py_gil_nvtx_nheld = 0;
    _py_gil_nvtx_hold_gil = NULL;
    if (_PY_GIL_NVTX_STATE() == 1) {
        int saved_errno = errno;
        _py_gil_nvtx_register();
        errno = saved_errno;
    }
}

#  define _PyGIL_NVTX_WAIT_BEGIN(interp_id, gil_id) \
       _py_gil_nvtx_wait_begin((uint64_t)(interp_id), (uint32_t)(gil_id))
#  define _PyGIL_NVTX_WAIT_END() _py_gil_nvtx_wait_end()
#  define _PyGIL_NVTX_HOLD_BEGIN(gil, tstate, interp_id, gil_id) \
       _py_gil_nvtx_hold_begin((const void *)(gil), (tstate), (uint64_t)(interp_id), (uint32_t)(gil_id))
#  define _PyGIL_NVTX_HOLD_END(gil, tstate) _py_gil_nvtx_hold_end((const void *)(gil), (tstate))
#  define _PyGIL_NVTX_DROP_REQUEST(interp_id, gil_id) \
       _py_gil_nvtx_drop_request((uint64_t)(interp_id), (uint32_t)(gil_id))
#  define _PyGIL_NVTX_FORK_CHILD() _py_gil_nvtx_fork_child()

#else /* !PY_NVTX_GIL */

#  define _PyGIL_NVTX_WAIT_BEGIN(interp_id, gil_id) ((void)0)
#  define _PyGIL_NVTX_WAIT_END() ((void)0)
#  define _PyGIL_NVTX_HOLD_BEGIN(gil, tstate, interp_id, gil_id) ((void)0)
#  define _PyGIL_NVTX_HOLD_END(gil, tstate) ((void)0)
#  define _PyGIL_NVTX_DROP_REQUEST(interp_id, gil_id) ((void)0)
#  define _PyGIL_NVTX_FORK_CHILD() ((void)0)

#endif /* PY_NVTX_GIL */

#endif /* !Py_CEVAL_GIL_NVTX_H */
