#!/usr/bin/env bash
# Everything a fresh machine of ours lacks for building, tracing and testing gil-nvtx. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export DEBIAN_FRONTEND=noninteractive
sudo_=""
[ "$(id -u)" -eq 0 ] || sudo_="sudo"
$sudo_ apt-get update -qq
# Compilers and CPython's build dependencies (ccache: the test interpreters are rebuilt whenever the
# patch changes, and then all but a few objects are the same) (missing -dev packages would only skip stdlib modules, but
# CPython's own test suites import several of them).
$sudo_ apt-get install -y -qq --no-install-recommends \
  build-essential pkg-config dpkg-dev xz-utils ca-certificates util-linux procps \
  libssl-dev zlib1g-dev libbz2-dev liblzma-dev libffi-dev libsqlite3-dev libreadline-dev \
  libncurses-dev libgdbm-dev uuid-dev valgrind strace sqlite3 chromium cmake libssh-4 python3 ccache >/dev/null
# Two Nsight Systems, both tested: 2022.4 (Debian non-free, on PATH, the project's default) and 2024.2
# (the first with --trace=python-gil, in /opt/nsight-systems-2024.2; chosen with GIL_NVTX_NSYS or --nsys).
$sudo_ bash "$here/install-nsys.sh"
$sudo_ bash "$here/install-nsys-2024.sh"
