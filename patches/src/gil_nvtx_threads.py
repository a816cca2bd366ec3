"""Names each threading.Thread's OS thread with its Python name for NVTX tools (nsys, the gil-nvtx
collector), so that a GIL report says "writer" where it would say "thread 29125". Loaded at start-up
by gil_nvtx_threads.pth, which build-python installs beside it in site-packages; a no-op when the
interpreter lacks the _gil_nvtx module."""
import sys


def _install():
    try:
        from _gil_nvtx import name_thread
    except ImportError:
        return
    import threading

    def name(thread):
        native_id = getattr(thread, "native_id", None)
        if native_id is None and thread is threading.current_thread():
            native_id = threading.get_native_id()
        if native_id is not None:
            try:
                name_thread(native_id, str(thread.name))
            except (OverflowError, TypeError, ValueError):
                pass  # a name NVTX cannot carry (embedded NUL): keep the OS name

    bootstrap_inner = threading.Thread._bootstrap_inner

    def _bootstrap_inner(self):
        # Runs in the new thread before its target: get_native_id() is this thread's id.
        try:
            name_thread(threading.get_native_id(), str(self.name))
        except (OverflowError, TypeError, ValueError):
            pass
        bootstrap_inner(self)

    threading.Thread._bootstrap_inner = _bootstrap_inner

    prop = threading.Thread.name

    def _set_name(self, value):
        prop.fset(self, value)
        if self.is_alive():
            name(self)

    threading.Thread.name = property(prop.fget, _set_name, prop.fdel, prop.__doc__)
    name(threading.main_thread())


# Isolated mode (-I) is how CPython's own test helpers start a clean interpreter: leave it plain.
if not sys.flags.isolated:
    _install()
del _install
