/* _gil_nvtx: the patched interpreter's own NVTX calls from Python. build-python compiles it against
 * the interpreter it builds (the same NVTX headers as the GIL hooks) and installs it into
 * site-packages with gil_nvtx_threads.py, which names every threading.Thread's OS thread with its
 * Python name through it.
 *
 * name_thread(native_id, name): nvtxNameOsThreadA. Any NVTX tool (nsys, the gil-nvtx collector)
 * then shows the thread by its Python name; with no tool attached NVTX makes it a no-op.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <nvtx3/nvToolsExt.h>

static PyObject *
name_thread(PyObject *self, PyObject *args)
{
    unsigned long long native_id;
    const char *name;
    if (!PyArg_ParseTuple(args, "Ks:name_thread", &native_id, &name)) {
        return NULL;
    }
    nvtxNameOsThreadA((uint32_t)native_id, name);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"name_thread", name_thread, METH_VARARGS, "name_thread(native_id, name): name an OS thread for NVTX tools."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_gil_nvtx", "The gil-nvtx interpreter's NVTX calls.", -1, methods,
};

PyMODINIT_FUNC
PyInit__gil_nvtx(void)
{
    PyObject *m = PyModule_Create(&module);
#ifdef Py_GIL_DISABLED
    /* Stateless and thread-safe: it needs no GIL in a free-threaded build. */
    if (m != NULL && PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED) < 0) {
        Py_DECREF(m);
        return NULL;
    }
#endif
    return m;
}
