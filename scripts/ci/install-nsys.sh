#!/usr/bin/env bash
# Installs Nsight Systems 2022.4 from Debian's non-free component (CPU-only is fine) and makes it usable:
# the QdstrmImporter link that nsys needs to turn a .qdstrm into a .nsys-rep.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v nsys >/dev/null 2>&1; then
  list=/etc/apt/sources.list.d/gil-nvtx-nonfree.sources
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  "$here/apt-sources.sh" "contrib non-free non-free-firmware" deb "$suite" > "$list.tmp"
  mv "$list.tmp" "$list"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    nsight-systems nsight-systems-target >/dev/null
fi
target=/usr/lib/x86_64-linux-gnu/nsight-systems
if [ -d /usr/lib/nsight-systems/host-linux-x64 ] && [ -d "$target" ]; then
  ln -sfn /usr/lib/nsight-systems/host-linux-x64 "$target/host-linux-x64"
fi
nsys --version
