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
 *   _PyGIL_NVTX_HOLD_BEGIN(gil, interp_id, gil_id)   W-/H+ right after gil->locked = 1
 *   _PyGIL_NVTX_HOLD_END(gil)                        H-   right before gil->locked = 0 (tstate may be NULL)
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
 *  - Only registered strings and prebuilt attributes are used under gil->mutex.
 */
#ifndef Py_CEVAL_GIL_NVTX_H
#define Py_CEVAL_GIL_NVTX_H

#ifdef PY_NVTX_GIL

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <nvtx3/nvToolsExt.h>

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

static _PY_GIL_NVTX_TLS nvtxRangeId_t _py_gil_nvtx_wait_id;
static _PY_GIL_NVTX_TLS int _py_gil_nvtx_nheld;
static _PY_GIL_NVTX_TLS const void *_py_gil_nvtx_held_gil[_PY_GIL_NVTX_MAX_HELD];
static _PY_GIL_NVTX_TLS nvtxRangeId_t _py_gil_nvtx_held_id[_PY_GIL_NVTX_MAX_HELD];

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
_py_gil_nvtx_hold_begin(const void *gil, uint64_t interp_id, uint32_t gil_id)
{
    if (_PY_GIL_NVTX_STATE() != 1) {
        return;
    }
    int saved_errno = errno;
    if (_py_gil_nvtx_wait_id != 0) {
        nvtxDomainRangeEnd(_py_gil_nvtx_domain, _py_gil_nvtx_wait_id);
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
    errno = saved_errno;
}

static inline void
_py_gil_nvtx_hold_end(const void *gil)
{
    if (_PY_GIL_NVTX_STATE() != 1) {
        return;
    }
    for (int i = _py_gil_nvtx_nheld - 1; i >= 0; i--) {
        if (_py_gil_nvtx_held_gil[i] == gil) {
            int saved_errno = errno;
            nvtxDomainRangeEnd(_py_gil_nvtx_domain, _py_gil_nvtx_held_id[i]);
            for (int j = i + 1; j < _py_gil_nvtx_nheld; j++) {
                _py_gil_nvtx_held_gil[j - 1] = _py_gil_nvtx_held_gil[j];
                _py_gil_nvtx_held_id[j - 1] = _py_gil_nvtx_held_id[j];
            }
            _py_gil_nvtx_nheld--;
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
    if (_PY_GIL_NVTX_STATE() == 1) {
        int saved_errno = errno;
        _py_gil_nvtx_register();
        errno = saved_errno;
    }
}

#  define _PyGIL_NVTX_WAIT_BEGIN(interp_id, gil_id) \
       _py_gil_nvtx_wait_begin((uint64_t)(interp_id), (uint32_t)(gil_id))
#  define _PyGIL_NVTX_WAIT_END() _py_gil_nvtx_wait_end()
#  define _PyGIL_NVTX_HOLD_BEGIN(gil, interp_id, gil_id) \
       _py_gil_nvtx_hold_begin((const void *)(gil), (uint64_t)(interp_id), (uint32_t)(gil_id))
#  define _PyGIL_NVTX_HOLD_END(gil) _py_gil_nvtx_hold_end((const void *)(gil))
#  define _PyGIL_NVTX_DROP_REQUEST(interp_id, gil_id) \
       _py_gil_nvtx_drop_request((uint64_t)(interp_id), (uint32_t)(gil_id))
#  define _PyGIL_NVTX_FORK_CHILD() _py_gil_nvtx_fork_child()

#else /* !PY_NVTX_GIL */

#  define _PyGIL_NVTX_WAIT_BEGIN(interp_id, gil_id) ((void)0)
#  define _PyGIL_NVTX_WAIT_END() ((void)0)
#  define _PyGIL_NVTX_HOLD_BEGIN(gil, interp_id, gil_id) ((void)0)
#  define _PyGIL_NVTX_HOLD_END(gil) ((void)0)
#  define _PyGIL_NVTX_DROP_REQUEST(interp_id, gil_id) ((void)0)
#  define _PyGIL_NVTX_FORK_CHILD() ((void)0)

#endif /* PY_NVTX_GIL */

#endif /* !Py_CEVAL_GIL_NVTX_H */
