/* gil_nvtx: NVTX ranges and marks from Python code, for the interpreters build-python builds.
 *
 * The API follows NVIDIA's `nvtx` package (annotate, push_range/pop_range, start_range/end_range,
 * mark; message/color/domain/category/payload with the same meanings), so code written for one runs
 * on the other with `import gil_nvtx as nvtx`. It is its own module name so that it never shadows
 * NVIDIA's package where both are installed.
 *
 * Hot path: push_range/pop_range and annotate's enter/exit parse their arguments from the vectorcall
 * array without building a tuple or dict, find the domain and the registered string in dicts filled on
 * first use, and fill an nvtxEventAttributes_t on the stack: no allocation once a message has been seen.
 * annotate builds its attributes when it is created, so entering one is a single NVTX call.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#include <nvtx3/nvToolsExt.h>

#ifndef Py_TPFLAGS_HAVE_VECTORCALL
#define Py_TPFLAGS_HAVE_VECTORCALL _Py_TPFLAGS_HAVE_VECTORCALL
#endif

/* NVIDIA's package names its default domain "NVTX"; ranges land in the same place with either module. */
#define DEFAULT_DOMAIN "NVTX"

typedef struct {
    nvtxDomainHandle_t handle;
    PyObject *strings;    /* str -> int (nvtxStringHandle_t) */
    PyObject *categories; /* str -> int (category id) */
    uint32_t next_category;
} Domain;

static PyObject *domains;        /* str -> capsule(Domain *) */
static PyObject *colors;         /* str -> int (ARGB) */
static Domain *default_domain;
static PyObject *empty_message;  /* "" */
static PyObject *kw_names[5];    /* interned keyword names */

enum { ARG_MESSAGE, ARG_COLOR, ARG_DOMAIN, ARG_CATEGORY, ARG_PAYLOAD, ARG_COUNT };

static Domain *
domain_new(const char *name)
{
    Domain *d = PyMem_Calloc(1, sizeof(Domain));
    if (d == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    d->strings = PyDict_New();
    d->categories = PyDict_New();
    if (d->strings == NULL || d->categories == NULL) {
        Py_XDECREF(d->strings);
        Py_XDECREF(d->categories);
        PyMem_Free(d);
        return NULL;
    }
    d->handle = nvtxDomainCreateA(name);
    d->next_category = 1;
    return d;
}

/* The Domain for a `domain=` argument: None is the default one; a str is created once and kept. */
static Domain *
domain_for(PyObject *name)
{
    if (name == NULL || name == Py_None) return default_domain;
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "domain must be a str or None, not %.100s", Py_TYPE(name)->tp_name);
        return NULL;
    }
    PyObject *cap = PyDict_GetItemWithError(domains, name);
    if (cap != NULL) return (Domain *)PyCapsule_GetPointer(cap, NULL);
    if (PyErr_Occurred()) return NULL;
    const char *utf8 = PyUnicode_AsUTF8(name);
    if (utf8 == NULL) return NULL;
    Domain *d = domain_new(utf8);
    if (d == NULL) return NULL;
    /* Domains live as long as the process, as NVTX's own do: the capsule has no destructor. */
    cap = PyCapsule_New(d, NULL, NULL);
    if (cap == NULL) return NULL;
    /* SetDefault, not SetItem: a value once in a cache is never replaced, so a pointer read from it
     * stays valid even while another thread (free-threaded builds) adds the same name. */
    PyObject *kept = PyDict_SetDefault(domains, name, cap);
    Py_DECREF(cap);
    if (kept == NULL) return NULL;
    if (kept != cap) {
        /* Another thread created it first: same NVTX domain, keep theirs. */
        Py_DECREF(d->strings);
        Py_DECREF(d->categories);
        PyMem_Free(d);
    }
    return (Domain *)PyCapsule_GetPointer(kept, NULL);
}

static int
set_message(nvtxEventAttributes_t *a, Domain *d, PyObject *message)
{
    if (message == NULL || message == Py_None) message = empty_message;
    if (!PyUnicode_Check(message)) {
        PyErr_Format(PyExc_TypeError, "message must be a str or None, not %.100s", Py_TYPE(message)->tp_name);
        return -1;
    }
    PyObject *h = PyDict_GetItemWithError(d->strings, message);
    nvtxStringHandle_t handle;
    if (h != NULL) {
        handle = (nvtxStringHandle_t)PyLong_AsVoidPtr(h);
    } else {
        if (PyErr_Occurred()) return -1;
        const char *utf8 = PyUnicode_AsUTF8(message);
        if (utf8 == NULL) return -1;
        handle = nvtxDomainRegisterStringA(d->handle, utf8);
        PyObject *v = PyLong_FromVoidPtr((void *)handle);
        PyObject *kept = v == NULL ? NULL : PyDict_SetDefault(d->strings, message, v);
        Py_XDECREF(v);
        if (kept == NULL) return -1;
    }
    if (handle != NULL) {
        a->messageType = NVTX_MESSAGE_TYPE_REGISTERED;
        a->message.registered = handle;
    } else {
        /* No tool registered it (none attached): the text itself, which NVTX reads during the call. */
        a->messageType = NVTX_MESSAGE_TYPE_ASCII;
        a->message.ascii = PyUnicode_AsUTF8(message);
    }
    return 0;
}

static int
color_by_name(PyObject *name, uint32_t *argb)
{
    PyObject *v = PyDict_GetItemWithError(colors, name);
    if (v != NULL) {
        *argb = (uint32_t)PyLong_AsUnsignedLong(v);
        return 0;
    }
    if (PyErr_Occurred()) return -1;
    /* Not one of the basic names: matplotlib's, when it is installed (as NVIDIA's package does). */
    PyObject *mcolors = PyImport_ImportModule("matplotlib.colors");
    if (mcolors == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "unknown color %R (basic names, or any matplotlib color when matplotlib is installed)", name);
        return -1;
    }
    PyObject *rgb = PyObject_CallMethod(mcolors, "to_rgb", "O", name);
    Py_DECREF(mcolors);
    if (rgb == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "unknown color %R", name);
        return -1;
    }
    double r, g, b;
    int ok = PyArg_ParseTuple(rgb, "ddd", &r, &g, &b);
    Py_DECREF(rgb);
    if (!ok) return -1;
    *argb = 0xff000000u | ((uint32_t)(r * 255 + 0.5) << 16) | ((uint32_t)(g * 255 + 0.5) << 8) | (uint32_t)(b * 255 + 0.5);
    v = PyLong_FromUnsignedLong(*argb);
    PyObject *kept = v == NULL ? NULL : PyDict_SetDefault(colors, name, v);
    Py_XDECREF(v);
    return kept == NULL ? -1 : 0;
}

static int
set_color(nvtxEventAttributes_t *a, PyObject *color)
{
    if (color == NULL || color == Py_None) return 0;
    uint32_t argb;
    if (PyUnicode_Check(color)) {
        if (color_by_name(color, &argb) < 0) return -1;
    } else if (PyLong_Check(color)) {
        unsigned long long v = PyLong_AsUnsignedLongLong(color);
        if (v == (unsigned long long)-1 && PyErr_Occurred()) return -1;
        if (v > 0xffffffffull) {
            PyErr_SetString(PyExc_ValueError, "color must fit in 32 bits (0xRRGGBB or 0xAARRGGBB)");
            return -1;
        }
        /* 0xRRGGBB means opaque, as a hex color written by hand does. */
        argb = v <= 0xffffffull ? 0xff000000u | (uint32_t)v : (uint32_t)v;
    } else {
        PyErr_Format(PyExc_TypeError, "color must be a str, an int or None, not %.100s", Py_TYPE(color)->tp_name);
        return -1;
    }
    a->colorType = NVTX_COLOR_ARGB;
    a->color = argb;
    return 0;
}

static int
set_category(nvtxEventAttributes_t *a, Domain *d, PyObject *category)
{
    if (category == NULL || category == Py_None) return 0;
    if (PyLong_Check(category)) {
        unsigned long v = PyLong_AsUnsignedLong(category);
        if (v == (unsigned long)-1 && PyErr_Occurred()) return -1;
        if (v > 0xfffffffful) {
            PyErr_SetString(PyExc_ValueError, "category must fit in 32 bits");
            return -1;
        }
        a->category = (uint32_t)v;
        return 0;
    }
    if (!PyUnicode_Check(category)) {
        PyErr_Format(PyExc_TypeError, "category must be a str, an int or None, not %.100s", Py_TYPE(category)->tp_name);
        return -1;
    }
    PyObject *v = PyDict_GetItemWithError(d->categories, category);
    if (v != NULL) {
        a->category = (uint32_t)PyLong_AsUnsignedLong(v);
        return 0;
    }
    if (PyErr_Occurred()) return -1;
    const char *utf8 = PyUnicode_AsUTF8(category);
    if (utf8 == NULL) return -1;
    int r = 0;
    uint32_t id = 0;
    /* Free-threaded builds: two threads naming new categories at once must not share an id. */
#ifdef Py_GIL_DISABLED
    Py_BEGIN_CRITICAL_SECTION(d->categories);
#endif
    PyObject *again = PyDict_GetItemWithError(d->categories, category);
    if (again != NULL) {
        id = (uint32_t)PyLong_AsUnsignedLong(again);
    } else if (PyErr_Occurred()) {
        r = -1;
    } else {
        id = d->next_category++;
        nvtxDomainNameCategoryA(d->handle, id, utf8);
        v = PyLong_FromUnsignedLong(id);
        r = v == NULL ? -1 : PyDict_SetItem(d->categories, category, v);
        Py_XDECREF(v);
    }
#ifdef Py_GIL_DISABLED
    Py_END_CRITICAL_SECTION();
#endif
    a->category = id;
    return r;
}

static int
set_payload(nvtxEventAttributes_t *a, PyObject *payload)
{
    if (payload == NULL || payload == Py_None) return 0;
    if (PyFloat_Check(payload)) {
        a->payloadType = NVTX_PAYLOAD_TYPE_DOUBLE;
        a->payload.dValue = PyFloat_AS_DOUBLE(payload);
        return 0;
    }
    if (!PyLong_Check(payload)) {
        PyErr_Format(PyExc_TypeError, "payload must be an int, a float or None, not %.100s", Py_TYPE(payload)->tp_name);
        return -1;
    }
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(payload, &overflow);
    if (overflow == 0) {
        if (v == -1 && PyErr_Occurred()) return -1;
        a->payloadType = NVTX_PAYLOAD_TYPE_INT64;
        a->payload.llValue = v;
        return 0;
    }
    unsigned long long u = overflow > 0 ? PyLong_AsUnsignedLongLong(payload) : (unsigned long long)-1;
    if (overflow < 0 || (u == (unsigned long long)-1 && PyErr_Occurred())) {
        PyErr_Clear();
        PyErr_SetString(PyExc_OverflowError, "payload must fit in 64 bits (int64, or uint64 above it)");
        return -1;
    }
    a->payloadType = NVTX_PAYLOAD_TYPE_UNSIGNED_INT64;
    a->payload.ullValue = u;
    return 0;
}

static int
fill_attributes(nvtxEventAttributes_t *a, Domain *d, PyObject *const *args)
{
    memset(a, 0, sizeof *a);
    a->version = NVTX_VERSION;
    a->size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    if (set_message(a, d, args[ARG_MESSAGE]) < 0 || set_color(a, args[ARG_COLOR]) < 0 ||
        set_category(a, d, args[ARG_CATEGORY]) < 0 || set_payload(a, args[ARG_PAYLOAD]) < 0) {
        return -1;
    }
    return 0;
}

/* Vectorcall arguments into `out` by position and keyword, among the first `count` of kw_names. */
static int
parse_args(const char *fname, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames, PyObject **out, int count)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    for (int i = 0; i < count; i++) out[i] = NULL;
    if (nargs > count) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional arguments (%zd given)", fname, count, nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) out[i] = args[i];
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int at = -1;
        for (int i = 0; i < count && at < 0; i++) {
            if (key == kw_names[i]) at = i;
        }
        for (int i = 0; i < count && at < 0; i++) {
            if (PyUnicode_Compare(key, kw_names[i]) == 0) at = i;
        }
        if (at < 0) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", fname, key);
            return -1;
        }
        if (out[at] != NULL) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument %R", fname, key);
            return -1;
        }
        out[at] = args[nargs + k];
    }
    return 0;
}

static PyObject *
push_range(PyObject *self, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    PyObject *a[ARG_COUNT];
    if (parse_args("push_range", args, nargsf, kwnames, a, ARG_COUNT) < 0) return NULL;
    Domain *d = domain_for(a[ARG_DOMAIN]);
    nvtxEventAttributes_t attrs;
    if (d == NULL || fill_attributes(&attrs, d, a) < 0) return NULL;
    nvtxDomainRangePushEx(d->handle, &attrs);
    Py_RETURN_NONE;
}

static PyObject *
pop_range(PyObject *self, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    /* pop_range(domain=None): the domain is the third keyword of the shared list. */
    PyObject *a[1] = {NULL};
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "pop_range() takes at most 1 positional argument (%zd given)", nargs);
        return NULL;
    }
    if (nargs == 1) a[0] = args[0];
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        if ((key != kw_names[ARG_DOMAIN] && PyUnicode_Compare(key, kw_names[ARG_DOMAIN]) != 0) || a[0] != NULL) {
            PyErr_Format(PyExc_TypeError, "pop_range() got an unexpected keyword argument %R", key);
            return NULL;
        }
        a[0] = args[nargs + k];
    }
    Domain *d = domain_for(a[0]);
    if (d == NULL) return NULL;
    nvtxDomainRangePop(d->handle);
    Py_RETURN_NONE;
}

static PyObject *
mark(PyObject *self, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    PyObject *a[ARG_COUNT];
    if (parse_args("mark", args, nargsf, kwnames, a, ARG_COUNT) < 0) return NULL;
    Domain *d = domain_for(a[ARG_DOMAIN]);
    nvtxEventAttributes_t attrs;
    if (d == NULL || fill_attributes(&attrs, d, a) < 0) return NULL;
    nvtxDomainMarkEx(d->handle, &attrs);
    Py_RETURN_NONE;
}

/* start_range returns (range id, domain) so that end_range(r) ends it in the domain it started in. */
static PyObject *
start_range(PyObject *self, PyObject *const *args, Py_ssize_t nargsf, PyObject *kwnames)
{
    PyObject *a[ARG_COUNT];
    if (parse_args("start_range", args, nargsf, kwnames, a, ARG_COUNT) < 0) return NULL;
    Domain *d = domain_for(a[ARG_DOMAIN]);
    nvtxEventAttributes_t attrs;
    if (d == NULL || fill_attributes(&attrs, d, a) < 0) return NULL;
    nvtxRangeId_t id = nvtxDomainRangeStartEx(d->handle, &attrs);
    return Py_BuildValue("(KO)", (unsigned long long)id, a[ARG_DOMAIN] == NULL ? Py_None : a[ARG_DOMAIN]);
}

static PyObject *
end_range(PyObject *self, PyObject *range)
{
    unsigned long long id;
    PyObject *domain;
    if (!PyTuple_Check(range) || !PyArg_ParseTuple(range, "KO", &id, &domain)) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "end_range() takes the value start_range() returned");
        return NULL;
    }
    Domain *d = domain_for(domain);
    if (d == NULL) return NULL;
    nvtxDomainRangeEnd(d->handle, (nvtxRangeId_t)id);
    Py_RETURN_NONE;
}

/* ---- annotate: a context manager, and a decorator whose wrapper pushes and pops around each call. */

typedef struct {
    PyObject_HEAD
    Domain *domain;
    nvtxEventAttributes_t attrs; /* message "" until a decorated function names it */
    PyObject *args[ARG_COUNT];   /* as given, for the decorator's own attributes */
    PyObject *message;           /* keeps an ASCII message's text alive */
} Annotate;

typedef struct {
    PyObject_HEAD
    Domain *domain;
    nvtxEventAttributes_t attrs;
    PyObject *func;
    PyObject *message;
    PyObject *dict;
    vectorcallfunc vectorcall;
} Annotated;

static PyTypeObject AnnotateType;
static PyTypeObject AnnotatedType;

static int
annotate_init(Annotate *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"message", "color", "domain", "category", "payload", NULL};
    PyObject *a[ARG_COUNT] = {NULL, NULL, NULL, NULL, NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OOOOO:annotate", kwlist, &a[0], &a[1], &a[2], &a[3], &a[4])) return -1;
    Domain *d = domain_for(a[ARG_DOMAIN]);
    if (d == NULL || fill_attributes(&self->attrs, d, a) < 0) return -1;
    self->domain = d;
    for (int i = 0; i < ARG_COUNT; i++) {
        Py_XINCREF(a[i]);
        Py_XSETREF(self->args[i], a[i]);
    }
    PyObject *m = a[ARG_MESSAGE] != NULL && a[ARG_MESSAGE] != Py_None ? a[ARG_MESSAGE] : empty_message;
    Py_INCREF(m);
    Py_XSETREF(self->message, m);
    return 0;
}

static int
annotate_traverse(Annotate *self, visitproc visit, void *arg)
{
    for (int i = 0; i < ARG_COUNT; i++) Py_VISIT(self->args[i]);
    Py_VISIT(self->message);
    return 0;
}

static int
annotate_clear(Annotate *self)
{
    for (int i = 0; i < ARG_COUNT; i++) Py_CLEAR(self->args[i]);
    Py_CLEAR(self->message);
    return 0;
}

static void
annotate_dealloc(Annotate *self)
{
    PyObject_GC_UnTrack(self);
    annotate_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
annotate_enter(Annotate *self, PyObject *unused)
{
    if (self->domain == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "annotate was not initialised");
        return NULL;
    }
    nvtxDomainRangePushEx(self->domain->handle, &self->attrs);
    Py_INCREF(self);
    return (PyObject *)self;
}

static PyObject *
annotate_exit(Annotate *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (self->domain != NULL) nvtxDomainRangePop(self->domain->handle);
    Py_RETURN_FALSE; /* exceptions propagate */
}

static PyObject *annotated_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames);

/* @annotate(...) on a function: the message defaults to the function's name. */
static PyObject *
annotate_call(Annotate *self, PyObject *args, PyObject *kwargs)
{
    PyObject *func;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "annotate(...) decorates one callable, passed positionally");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O:annotate", &func)) return NULL;
    if (!PyCallable_Check(func)) {
        PyErr_Format(PyExc_TypeError, "annotate(...) decorates a callable, not %.100s", Py_TYPE(func)->tp_name);
        return NULL;
    }
    if (self->domain == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "annotate was not initialised");
        return NULL;
    }
    PyObject *a[ARG_COUNT];
    for (int i = 0; i < ARG_COUNT; i++) a[i] = self->args[i];
    PyObject *name = NULL;
    if (a[ARG_MESSAGE] == NULL || a[ARG_MESSAGE] == Py_None) {
        name = PyObject_GetAttrString(func, "__name__");
        if (name == NULL || !PyUnicode_Check(name)) {
            PyErr_Clear();
            Py_XDECREF(name);
            name = PyObject_Repr(func);
            if (name == NULL) return NULL;
        }
        a[ARG_MESSAGE] = name;
    } else {
        name = a[ARG_MESSAGE];
        Py_INCREF(name);
    }
    Annotated *w = PyObject_GC_New(Annotated, &AnnotatedType);
    if (w == NULL) {
        Py_DECREF(name);
        return NULL;
    }
    w->domain = self->domain;
    w->func = func;
    Py_INCREF(func);
    w->message = name;
    w->dict = NULL;
    w->vectorcall = annotated_vectorcall;
    if (fill_attributes(&w->attrs, self->domain, a) < 0) {
        Py_DECREF(w);
        return NULL;
    }
    PyObject_GC_Track(w);
    /* Like functools.wraps: the wrapper answers to the function's name, docstring and module. */
    static const char *copied[] = {"__module__", "__name__", "__qualname__", "__doc__"};
    w->dict = PyDict_New();
    if (w->dict == NULL) {
        Py_DECREF(w);
        return NULL;
    }
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        PyObject *v = PyObject_GetAttrString(func, copied[i]);
        if (v == NULL) {
            PyErr_Clear();
            continue;
        }
        int r = PyDict_SetItemString(w->dict, copied[i], v);
        Py_DECREF(v);
        if (r < 0) {
            Py_DECREF(w);
            return NULL;
        }
    }
    if (PyDict_SetItemString(w->dict, "__wrapped__", func) < 0) {
        Py_DECREF(w);
        return NULL;
    }
    return (PyObject *)w;
}

static PyObject *
annotated_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Annotated *w = (Annotated *)callable;
    nvtxDomainRangePushEx(w->domain->handle, &w->attrs);
    PyObject *r = PyObject_Vectorcall(w->func, args, nargsf, kwnames);
    nvtxDomainRangePop(w->domain->handle);
    return r;
}

static int
annotated_traverse(Annotated *self, visitproc visit, void *arg)
{
    Py_VISIT(self->func);
    Py_VISIT(self->message);
    Py_VISIT(self->dict);
    return 0;
}

static int
annotated_clear(Annotated *self)
{
    Py_CLEAR(self->func);
    Py_CLEAR(self->message);
    Py_CLEAR(self->dict);
    return 0;
}

static void
annotated_dealloc(Annotated *self)
{
    PyObject_GC_UnTrack(self);
    annotated_clear(self);
    PyObject_GC_Del(self);
}

/* A decorated method binds like a function does. */
static PyObject *
annotated_get(PyObject *self, PyObject *obj, PyObject *type)
{
    if (obj == NULL || obj == Py_None) {
        Py_INCREF(self);
        return self;
    }
    return PyMethod_New(self, obj);
}

static PyMethodDef annotate_methods[] = {
    {"__enter__", (PyCFunction)annotate_enter, METH_NOARGS, "Push the range."},
    {"__exit__", (PyCFunction)(void (*)(void))annotate_exit, METH_FASTCALL, "Pop the range."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject AnnotateType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gil_nvtx.annotate",
    .tp_basicsize = sizeof(Annotate),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "annotate(message=None, color=None, domain=None, category=None, payload=None): a push/pop range "
              "as a context manager (`with annotate(...)`) or a decorator (`@annotate(...)`).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)annotate_init,
    .tp_dealloc = (destructor)annotate_dealloc,
    .tp_traverse = (traverseproc)annotate_traverse,
    .tp_clear = (inquiry)annotate_clear,
    .tp_call = (ternaryfunc)annotate_call,
    .tp_methods = annotate_methods,
};

static PyTypeObject AnnotatedType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gil_nvtx.annotated",
    .tp_basicsize = sizeof(Annotated),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A function wrapped by annotate: each call is a push/pop range.",
    .tp_dealloc = (destructor)annotated_dealloc,
    .tp_traverse = (traverseproc)annotated_traverse,
    .tp_clear = (inquiry)annotated_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Annotated, vectorcall),
    .tp_dictoffset = offsetof(Annotated, dict),
    .tp_descr_get = annotated_get,
    .tp_getattro = PyObject_GenericGetAttr,
    .tp_setattro = PyObject_GenericSetAttr,
};

static PyMethodDef methods[] = {
    {"push_range", (PyCFunction)(void (*)(void))push_range, METH_FASTCALL | METH_KEYWORDS,
     "push_range(message=None, color=None, domain=None, category=None, payload=None): start a nested range on this thread."},
    {"pop_range", (PyCFunction)(void (*)(void))pop_range, METH_FASTCALL | METH_KEYWORDS,
     "pop_range(domain=None): end this thread's innermost range of the domain."},
    {"start_range", (PyCFunction)(void (*)(void))start_range, METH_FASTCALL | METH_KEYWORDS,
     "start_range(message=None, color=None, domain=None, category=None, payload=None): start a range that any thread can end; returns it for end_range."},
    {"end_range", (PyCFunction)end_range, METH_O, "end_range(range): end a range start_range returned."},
    {"mark", (PyCFunction)(void (*)(void))mark, METH_FASTCALL | METH_KEYWORDS,
     "mark(message=None, color=None, domain=None, category=None, payload=None): an instantaneous event."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "gil_nvtx", "NVTX ranges and marks from Python, in the spirit of NVIDIA's nvtx package.", -1, methods,
    NULL, NULL, NULL, NULL,
};

static int
add_color(const char *name, uint32_t rgb)
{
    PyObject *v = PyLong_FromUnsignedLong(0xff000000u | rgb);
    int r = v == NULL ? -1 : PyDict_SetItemString(colors, name, v);
    Py_XDECREF(v);
    return r;
}

PyMODINIT_FUNC
PyInit_gil_nvtx(void)
{
    static const char *names[ARG_COUNT] = {"message", "color", "domain", "category", "payload"};
    static const struct { const char *name; uint32_t rgb; } basic[] = {
        {"black", 0x000000}, {"white", 0xffffff}, {"red", 0xff0000}, {"green", 0x008000}, {"blue", 0x0000ff},
        {"yellow", 0xffff00}, {"cyan", 0x00ffff}, {"magenta", 0xff00ff}, {"orange", 0xffa500}, {"purple", 0x800080},
        {"gray", 0x808080}, {"grey", 0x808080}, {"brown", 0xa52a2a}, {"pink", 0xffc0cb}, {"lime", 0x00ff00},
    };
    if (domains == NULL) {
        domains = PyDict_New();
        colors = PyDict_New();
        empty_message = PyUnicode_InternFromString("");
        if (domains == NULL || colors == NULL || empty_message == NULL) return NULL;
        for (int i = 0; i < ARG_COUNT; i++) {
            kw_names[i] = PyUnicode_InternFromString(names[i]);
            if (kw_names[i] == NULL) return NULL;
        }
        for (size_t i = 0; i < sizeof basic / sizeof basic[0]; i++) {
            if (add_color(basic[i].name, basic[i].rgb) < 0) return NULL;
        }
        default_domain = domain_new(DEFAULT_DOMAIN);
        if (default_domain == NULL) return NULL;
    }
    if (PyType_Ready(&AnnotateType) < 0 || PyType_Ready(&AnnotatedType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&AnnotateType);
    if (PyModule_AddObject(m, "annotate", (PyObject *)&AnnotateType) < 0) {
        Py_DECREF(&AnnotateType);
        Py_DECREF(m);
        return NULL;
    }
#ifdef Py_GIL_DISABLED
    /* Its caches are dicts (locked by the interpreter itself), categories are numbered under a critical
     * section, and a domain or string registered twice by racing threads is the same NVTX object: no
     * GIL needed, and importing it must not turn the GIL back on in the program being traced. */
    if (PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
#endif
    return m;
}
