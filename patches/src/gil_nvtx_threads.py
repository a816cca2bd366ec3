"""Names each threading.Thread's OS thread with its Python name for NVTX tools (nsys, the gil-nvtx
collector), so that a GIL report says "writer" where it would say "thread 29125". Loaded at start-up
by gil_nvtx_threads.pth, which build-python installs beside it in site-packages; a no-op when the
interpreter lacks the _gil_nvtx module.

It costs start-up nothing but this module: threading is patched when something imports it (a finder
at the front of sys.meta_path waits for that import and then steps aside), not imported here."""
import sys


def _patch(threading, name_thread):
    def name(thread):
        native_id = getattr(thread, "native_id", None)
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


class _WhenThreadingIsImported:
    """Lets the import of threading run as usual, then patches the module."""

    def __init__(self, name_thread):
        self.name_thread = name_thread

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "threading":
            return None
        sys.meta_path.remove(self)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        exec_module = getattr(spec.loader, "exec_module", None)
        # A loader that is a class (a frozen or built-in module) is shared: leave it alone.
        if exec_module is None or isinstance(spec.loader, type):
            return spec
        name_thread = self.name_thread

        def exec_then_patch(module):
            exec_module(module)
            _patch(module, name_thread)

        spec.loader.exec_module = exec_then_patch
        return spec


def _install():
    try:
        from _gil_nvtx import name_thread
    except ImportError:
        return
    # The main thread has its name before anything imports threading (many programs never do).
    import _thread

    try:
        name_thread(_thread.get_native_id(), "MainThread")
    except (AttributeError, OverflowError):
        pass  # no native thread ids on this platform
    threading = sys.modules.get("threading")
    if threading is not None:
        _patch(threading, name_thread)
    else:
        sys.meta_path.insert(0, _WhenThreadingIsImported(name_thread))


# Isolated mode (-I) is how CPython's own test helpers start a clean interpreter: leave it plain.
if not sys.flags.isolated:
    _install()
del _install
