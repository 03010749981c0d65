#!/usr/bin/env bash
# Runs serve-handler's own integration suite against sluice/serve-handler.
#
#   scripts/serve-handler-suite.sh SNAPSHOT [WORKDIR]
#
# SNAPSHOT is a git directory (or work tree) of github.com/vercel/serve-handler.
# Its tests and fixtures are unpacked into WORKDIR (default
# /tmp/serve-handler-suite), outside this repository; the suite's two
# imports of the package under test, `../src` (the handler) and
# `../src/error` (the page an error is rendered as), are pointed at this
# repository's dist/ by two one-line shims, and the test dependencies named
# in the snapshot's package.json are installed there. Build first
# (`npm run build:ts`). Not part of npm test.
#
# Left out (see README, "serve-handler's own suite"): the tests that pass
# fs overrides through `handlers` and expect them to be called, which a
# server that opens files itself and sends their fds cannot honour.
set -euo pipefail

snapshot="${1:?usage: $0 SNAPSHOT [WORKDIR]}"
work="${2:-/tmp/serve-handler-suite}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
[ -f "$repo/dist/serve-handler.js" ] || { echo "build first: npm run build:ts" >&2; exit 2; }

if [ -d "$snapshot/.git" ]; then gitdir="$snapshot/.git"; else gitdir="$snapshot"; fi
git --git-dir="$gitdir" rev-parse --verify HEAD >/dev/null

rm -rf "$work/test" "$work/src"
mkdir -p "$work/src"
git --git-dir="$gitdir" archive HEAD test jest.config.js | tar -x -C "$work"
# The fixture `symlinks/package.json` links to the suite's own package.json.
git --git-dir="$gitdir" show HEAD:package.json >"$work/package.json"
echo "module.exports = require('$repo/dist/serve-handler.js');" >"$work/src/index.js"
echo "module.exports = require('$repo/dist/serve-handler.js').errorPage;" >"$work/src/error.js"

cd "$work"
if [ ! -d node_modules/jest ]; then
  deps="$(node -e '
    const d = require("./package.json").devDependencies;
    const used = ["jest", "micro", "node-fetch", "fs-extra", "sleep-promise", "test-listen"];
    console.log(used.map((n) => `${n}@${d[n]}`).join(" "));')"
  mkdir -p deps && cd deps && echo '{"private":true}' >package.json
  # shellcheck disable=SC2086
  npm install --no-audit --no-fund --ignore-scripts $deps >/dev/null
  cd .. && ln -sfn deps/node_modules node_modules
fi

excluded=(
  'try to render non-existing json file and `stat` errors'
  'error is still sent back even if reading `404.html` failed'
  'listing the directory failed'
  'set `cleanUrls` config property to `true` and an error occurs'
  'error occurs while getting stat of path'
  'error occurs while getting stat of not-found path'
  'modify config in `createReadStream` handler'
  'range request without size'
  'errors in `createReadStream` get handled'
  'log error when checking `404.html` failed'
)
skip="$(printf '%s\n' "${excluded[@]}" | node -e '
  const names = require("fs").readFileSync(0, "utf8").trim().split("\n");
  const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  console.log(`^(?!(${names.map(esc).join("|")})$)`);')"

if [ "${ALL:-0}" = 1 ]; then skip=''; fi
NODE_ENV=test npx jest --ci --coverage=false --forceExit --testNamePattern "$skip" test/integration.test.js
