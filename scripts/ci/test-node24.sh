#!/usr/bin/env bash
# The tests that need neither nsys nor a patched interpreter, once more under Node 24 (`npm run
# test:node24`; .ci/run runs it after `npm test`). The addon and the collector are the ones already
# built (Node-API: one binary for every Node); better-sqlite3 gets the build made for Node 24 by
# install-node24.sh, through a loader hook, so node_modules stays as `npm ci` left it. Extra test
# files, or a vitest filter, can be given as arguments.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=$(bash scripts/ci/install-node24.sh)
bs_version=$(node -p "require('./node_modules/better-sqlite3/package.json').version")
export PATH="$dir/bin:$PATH"
export GIL_NVTX_NODE24_SQLITE="$dir/better-sqlite3-$bs_version/better_sqlite3.node"
export NODE_OPTIONS="--import=$PWD/scripts/ci/node24-sqlite-hook.mjs${NODE_OPTIONS:+ $NODE_OPTIONS}"
# Tool-backed tests are `npm test`'s job; here they would only repeat it more slowly.
unset GIL_NVTX_REQUIRE_NSYS GIL_NVTX_REQUIRE_PYTHONS GIL_NVTX_REQUIRE_CHROMIUM
[ "$(node -p 'process.versions.node.split(".")[0]')" = 24 ] || { echo "test-node24: node on PATH is $(node --version), not 24" >&2; exit 1; }
files=(
  test/nvtx/api.test.ts test/nvtx/binary.test.ts test/nvtx/headers.test.ts test/nvtx/prebuild.test.ts test/nvtx/workers.test.ts
  test/instrument/http.test.ts test/instrument/http-native.test.ts test/instrument/route.test.ts
  test/report/analyze.test.ts test/report/bad-input.test.ts test/report/bad-rows.test.ts test/report/cli.test.ts
  test/report/format.test.ts test/report/gil-sources.test.ts test/report/holder-activity.test.ts test/report/output-file.test.ts
  test/report/slow-ranges.test.ts test/report/stats.test.ts test/report/streaming.test.ts test/report/why.test.ts
  test/trace/collector.test.ts test/trace/native.test.ts test/trace/raw-format.test.ts test/trace/timestamps.test.ts
  test/trace/trace-cli.test.ts test/trace/trace-folder.test.ts test/trace/uint64-values.test.ts
)
exec node node_modules/vitest/vitest.mjs run "${files[@]}" "$@"
