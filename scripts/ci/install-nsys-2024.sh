#!/usr/bin/env bash
# Installs Nsight Systems 2024.2.3 beside the system's 2022.4, into one folder of its own (default
# /opt/nsight-systems-2024.2), because that release has --trace=python-gil and 2022.4 has not.
#
# Debian carries it only in experimental, and apt will not install it on bookworm (nsight-systems-target
# depends on a newer libc6), but NVIDIA's binaries need only glibc 2.15. So the .debs are fetched with
# `apt-get download` through a private apt configuration (own sources, lists and cache; the mirror URI
# comes from the system's debian.sources via apt-sources.sh, the system's apt setup is never changed)
# and unpacked with dpkg-deb -x:
#   <dest>/host-linux-x64    QdstrmImporter and friends, plus libarrow/libparquet and a libssh.so.4 link
#   <dest>/target-linux-x64  nsys itself; it finds its importer as ../host-linux-x64
# The new folder must pass an `nsys profile` and `nsys export` before it replaces anything.
# Idempotent: a folder whose nsys already reports this version is left alone, and downloaded .debs are
# kept in the cache so a reinstall does not fetch them again.
# Usage: install-nsys-2024.sh [dest]   (env: GIL_NVTX_CACHE, default ~/.cache/gil-nvtx)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=${1:-/opt/nsight-systems-2024.2}
nsys_version=2024.2.3.38~12.5.0-2+b1
arrow_version=0~~12.5.0-2+b1
want=2024.2.3.38
suite=experimental
cache=${GIL_NVTX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gil-nvtx}
state=$cache/apt/$suite-nonfree
debs=$cache/debs/nsys-$want

fail() { echo "install-nsys-2024: $*" >&2; exit 1; }

installed_version() {
  [ -x "$dest/target-linux-x64/nsys" ] || return 1
  "$dest/target-linux-x64/nsys" --version 2>/dev/null | grep -o '[0-9]\{4\}\.[0-9.]*' | head -1
}

if [ "$(installed_version || true)" = "$want" ]; then
  "$dest/target-linux-x64/nsys" --version
  exit 0
fi

arch=$(dpkg --print-architecture)
[ "$arch" = amd64 ] || fail "only amd64 is supported (this machine is $arch)"
libssh=$(ldconfig -p | awk '$1=="libssh.so.4" && /x86-64/ {print $NF; exit}')
[ -n "$libssh" ] || fail "the system has no libssh.so.4; install package libssh-4 first"

# The private apt configuration. APT::Sandbox::User: apt would otherwise download as `_apt`, which
# cannot write into this cache.
mkdir -p "$state/sources.list.d" "$state/lists/partial" "$state/cache/archives/partial" "$debs"
"$here/apt-sources.sh" "main non-free" deb "$suite" > "$state/sources.list.d/gil-nvtx-$suite.sources"
: > "$state/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$state/sources.list"
  -o "Dir::Etc::SourceParts=$state/sources.list.d"
  -o "Dir::State::Lists=$state/lists"
  -o "Dir::Cache=$state/cache"
  -o "APT::Sandbox::User=$(id -un)"
)
packages=("nsight-systems=$nsys_version" "nsight-systems-target=$nsys_version"
  "libarrow500=$arrow_version" "libparquet500=$arrow_version")
missing=()
for p in "${packages[@]}"; do
  # apt-get download names the file <name>_<version with ':' as %3a>_<arch>.deb; '~' and '+' stay.
  compgen -G "$debs/${p%%=*}_*_$arch.deb" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-nsys-2024: downloading ${missing[*]%%=*} from Debian $suite" >&2
  apt-get "${apt_opts[@]}" -q update >/dev/null || fail "apt-get update for $suite failed"
  # Downloaded into a scratch folder first, so an interrupted download never looks cached.
  part=$(mktemp -d "$debs.part.XXXXXX")
  (cd "$part" && apt-get "${apt_opts[@]}" -q download "${missing[@]}" >&2) \
    || { rm -rf "$part"; fail "apt-get download ${missing[*]} failed"; }
  mv "$part"/*.deb "$debs/"
  rmdir "$part"
fi

mkdir -p "$(dirname "$dest")"
# Unpacked and assembled beside $dest (about 700 MB), so the final rename stays on one file system.
scratch=$(mktemp -d "$dest.unpack.XXXXXX")
new=""
trap 'rm -rf "$scratch" ${new:+"$new"}' EXIT
for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$scratch/root"; done
host=$scratch/root/usr/lib/nsight-systems/host-linux-x64
target=$scratch/root/usr/lib/x86_64-linux-gnu/nsight-systems/target-linux-x64
[ -d "$host" ] && [ -x "$target/nsys" ] || fail "the packages did not contain host-linux-x64 and target-linux-x64/nsys"
new=$(mktemp -d "$dest.new.XXXXXX")
mv "$host" "$new/host-linux-x64"
mv "$target" "$new/target-linux-x64"
# The host tools find these through their $ORIGIN run path, so no LD_LIBRARY_PATH is needed.
cp -a "$scratch"/root/usr/lib/x86_64-linux-gnu/libarrow.so.500* "$scratch"/root/usr/lib/x86_64-linux-gnu/libparquet.so.500* "$new/host-linux-x64/"
ln -sfn "$libssh" "$new/host-linux-x64/libssh.so.4"

got=$("$new/target-linux-x64/nsys" --version 2>&1) || fail "the unpacked nsys does not run: $got"
case "$got" in *"$want"*) ;; *) fail "the unpacked nsys reports '$got', not $want" ;; esac
# A profile and an export prove the importer and the arrow/ssh libraries are found; through
# nsys-locked.sh like every nsys run (one at a time, under a timeout, agents cleaned up).
smoke=$scratch/smoke
GIL_NVTX_NSYS=$new/target-linux-x64/nsys "$here/../nsys-locked.sh" 120 profile --trace=osrt --sample=none \
  --cpuctxsw=none --force-overwrite=true --output="$smoke" /bin/true >"$scratch/smoke.log" 2>&1 \
  && [ -f "$smoke.nsys-rep" ] || fail "nsys profile wrote no report: $(tail -3 "$scratch/smoke.log")"
GIL_NVTX_NSYS=$new/target-linux-x64/nsys "$here/../nsys-locked.sh" 120 export --type=sqlite --force-overwrite=true \
  --output="$smoke.sqlite" "$smoke.nsys-rep" >"$scratch/smoke.log" 2>&1 \
  && [ -f "$smoke.sqlite" ] || fail "nsys export failed: $(tail -3 "$scratch/smoke.log")"
chmod 755 "$new"
# Swapped in whole: a half-copied folder is never left at $dest.
rm -rf "$dest.old"
[ -e "$dest" ] && mv "$dest" "$dest.old"
mv "$new" "$dest"
new=""
rm -rf "$dest.old"
"$dest/target-linux-x64/nsys" --version
