import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Release } from '../../lib/python/manifest.js';

/**
 * A tiny stand-in for a CPython release, so every build-python error path can be exercised in well
 * under a second: a `configure` that writes a Makefile, a `make` that "builds", a `make install` that
 * honours DESTDIR and installs bin/python3.99 plus the configure arguments it saw. Behaviour switches
 * come from the environment: FAKE_CONFIGURE_FAIL, FAKE_MAKE_FAIL, FAKE_INSTALL_FAIL, FAKE_COUNTER
 * (a file each step appends its name to, so tests can see what re-ran), FAKE_INSTALL_ELF (install an
 * ELF python3.99 built with cc, without the patch's symbol), and FAKE_INSTALL_BLOCK (a FIFO: the
 * install half-populates DESTDIR, starts a `sleep` child, writes its pid into the FIFO and waits for
 * it: a long build step to interrupt).
 */
export const FAKE_VERSION = '3.99.1';

const CONFIGURE = `#!/bin/sh
[ -n "$FAKE_COUNTER" ] && echo configure >> "$FAKE_COUNTER"
if [ -n "$FAKE_CONFIGURE_FAIL" ]; then echo "configure: error: no acceptable C compiler found (fake)" >&2; exit 1; fi
prefix=/usr/local
for a in "$@"; do
  case "$a" in --prefix=*) prefix=\${a#--prefix=} ;; esac
  printf '%s\\n' "$a" >> configure-args.txt
done
cat > Makefile <<'MK'
all:
\t@[ -z "$$FAKE_COUNTER" ] || echo make >> "$$FAKE_COUNTER"
\t@if [ -n "$$FAKE_MAKE_FAIL" ]; then echo "Python/ceval.c:1: error: fake compiler error" >&2; exit 2; fi
\t@echo "gcc -c Python/ceval_gil.c"
install:
\t@[ -z "$$FAKE_COUNTER" ] || echo install >> "$$FAKE_COUNTER"
\t@if [ -n "$$FAKE_INSTALL_FAIL" ]; then echo "install: cannot create regular file (fake)" >&2; exit 2; fi
\tmkdir -p "$(DESTDIR)@PREFIX@/bin" "$(DESTDIR)@PREFIX@/share"
\tprintf '#!/bin/sh\\necho fake python 3.99.1\\n' > "$(DESTDIR)@PREFIX@/bin/python3.99"
\tchmod +x "$(DESTDIR)@PREFIX@/bin/python3.99"
\tcp configure-args.txt Python/ceval_gil.c "$(DESTDIR)@PREFIX@/share/"
\tmkdir -p "$(DESTDIR)@PREFIX@/include/python3.99" "$(DESTDIR)@PREFIX@/lib/python3.99/site-packages" "$(DESTDIR)@PREFIX@/lib/python3.99/config-3.99-fake"
\tcp Include/Python.h "$(DESTDIR)@PREFIX@/include/python3.99/"
\tprintf 'EXT_SUFFIX=.fake-399.so\\n' > "$(DESTDIR)@PREFIX@/lib/python3.99/config-3.99-fake/Makefile"
\t@if [ -n "$$FAKE_INSTALL_ELF" ]; then echo 'int main(void) { return 0; }' | cc -x c - -o "$(DESTDIR)@PREFIX@/bin/python3.99"; fi
\t@if [ -n "$$FAKE_INSTALL_BLOCK" ]; then sleep 1000 & echo $$! > "$$FAKE_INSTALL_BLOCK"; wait; fi
MK
sed -i "s#@PREFIX@#$prefix#g" Makefile
echo "configure: creating Makefile"
`;

const GIL_C = `/* fake ceval_gil.c */
static void take_gil(void)
{
    MUTEX_LOCK(gil->mutex);
}
`;

/** Just what patches/src/gil_nvtx_module.c uses, so that build-python's thread-naming step really compiles. */
const PYTHON_H = `#include <stddef.h>
#include <stdint.h>
typedef struct _object { long ob_refcnt; } PyObject;
typedef PyObject *(*PyCFunction)(PyObject *, PyObject *);
typedef struct { const char *ml_name; PyCFunction ml_meth; int ml_flags; const char *ml_doc; } PyMethodDef;
typedef struct PyModuleDef { int head; const char *m_name; const char *m_doc; long m_size; PyMethodDef *m_methods; } PyModuleDef;
#define PyModuleDef_HEAD_INIT 0
#define METH_VARARGS 1
#define PyMODINIT_FUNC PyObject *
extern PyObject _Py_NoneStruct;
#define Py_RETURN_NONE return &_Py_NoneStruct
int PyArg_ParseTuple(PyObject *, const char *, ...);
PyObject *PyModule_Create(PyModuleDef *);
void nvtxNameOsThreadA(uint32_t, const char *);
`;

/** Makes `<dir>/Python-3.99.1.tgz` (plus its Release) and a patch that applies to it. */
export function makeFakeRelease(dir: string): { tarball: string; release: Release; patch: string; badPatch: string } {
  const root = join(dir, 'src', `Python-${FAKE_VERSION}`);
  mkdirSync(join(root, 'Python'), { recursive: true });
  writeFileSync(join(root, 'configure'), CONFIGURE);
  chmodSync(join(root, 'configure'), 0o755);
  writeFileSync(join(root, 'Python', 'ceval_gil.c'), GIL_C);
  mkdirSync(join(root, 'Include'));
  writeFileSync(join(root, 'Include', 'Python.h'), PYTHON_H);
  const tarball = join(dir, `Python-${FAKE_VERSION}.tgz`);
  execFileSync('tar', ['-czf', tarball, '-C', join(dir, 'src'), `Python-${FAKE_VERSION}`]);
  const sha256 = createHash('sha256').update(readFileSync(tarball)).digest('hex');
  const t = { file: `Python-${FAKE_VERSION}.tgz`, path: `/ftp/python/${FAKE_VERSION}/Python-${FAKE_VERSION}.tgz`, sha256 };
  const release: Release = { version: FAKE_VERSION, minor: '3.99', tarballs: [t], checksumSource: 'pyenv', preferred: t };
  const patch = join(dir, 'good.patch');
  writeFileSync(patch, [
    '--- a/Python/ceval_gil.c',
    '+++ b/Python/ceval_gil.c',
    '@@ -2,4 +2,5 @@',
    ' static void take_gil(void)',
    ' {',
    '+    _PyGIL_NVTX_WAIT_BEGIN();',
    '     MUTEX_LOCK(gil->mutex);',
    ' }',
    '',
  ].join('\n'));
  const badPatch = join(dir, 'bad.patch');
  writeFileSync(badPatch, [
    '--- a/Python/ceval_gil.c',
    '+++ b/Python/ceval_gil.c',
    '@@ -2,5 +2,6 @@',
    ' static void drop_gil(struct _ceval_state *ceval)',
    ' {',
    '     _Py_ANNOTATE_RWLOCK_RELEASED(&gil->locked, 1);',
    '+    _PyGIL_NVTX_HOLD_END();',
    '     _Py_atomic_store_relaxed(&gil->locked, 0);',
    '     COND_SIGNAL(gil->cond);',
    '',
  ].join('\n'));
  return { tarball, release, patch, badPatch };
}
