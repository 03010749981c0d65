#!/usr/bin/env bash
# Runs koa-static's own test suite against sluice/koa.
#
#   test/peers/koa-static.sh <snapshot> [workdir]
#
# <snapshot>: a git directory (bare or not) or a checkout of
# github.com/koajs/static. The suite is set up in [workdir] (default
# /tmp/koa-static-suite), never inside this repository: its test/
# directory and fixtures, a package.json with its test dependencies (koa
# 2, mocha, supertest, at the versions its package.json asks for), and in
# place of the package itself a shim index.js that re-exports this
# repository's dist/koa.js. The tests listed in koa-static.exclusions (none
# today) are marked skipped, with the reason. Needs the network once, for
# `npm install` of the suite's dependencies; not part of `npm test`.
set -euo pipefail

snapshot=${1:?usage: test/peers/koa-static.sh <snapshot> [workdir]}
work=${2:-/tmp/koa-static-suite}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
adapter="$repo/dist/koa.js"

if [ ! -f "$adapter" ]; then
  (cd "$repo" && npx tsc -p tsconfig.json)
fi

mkdir -p "$work"
rm -rf "$work/test"
if git --git-dir="$snapshot" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  git --git-dir="$snapshot" archive HEAD test package.json | tar -x -C "$work" --transform 's,^package.json$,upstream-package.json,'
  echo "suite: $(git --git-dir="$snapshot" log -1 --format='%h %s' HEAD)" >&2
elif [ -d "$snapshot/.git" ]; then
  git -C "$snapshot" archive HEAD test package.json | tar -x -C "$work" --transform 's,^package.json$,upstream-package.json,'
  echo "suite: $(git -C "$snapshot" log -1 --format='%h %s' HEAD)" >&2
else
  cp -r "$snapshot/test" "$work/test"
  cp "$snapshot/package.json" "$work/upstream-package.json"
fi

cat >"$work/index.js" <<EOF
'use strict'
// The package under test: sluice/koa, in place of koa-static.
module.exports = require('$adapter')
EOF

# The suite's own test dependencies, at the versions its package.json asks for.
(
  cd "$work"
  node -e '
    const up = require("./upstream-package.json");
    const want = ["koa", "mocha", "supertest"];
    const deps = Object.fromEntries(want.map((n) => [n, up.devDependencies[n] || up.dependencies[n] || "*"]));
    const text = JSON.stringify({ name: "koa-static-suite", private: true, dependencies: deps }, null, 2) + "\n";
    const fs = require("fs");
    if (!fs.existsSync("package.json") || fs.readFileSync("package.json", "utf8") !== text) fs.writeFileSync("package.json", text);
  '
  if [ ! -d node_modules/koa ] || [ package.json -nt node_modules/.package-lock.json ]; then
    npm install --no-audit --no-fund --loglevel=error >&2
    touch node_modules/.package-lock.json
  fi
)

# Mark the excluded tests skipped (`it(` becomes `it.skip(`, the reason in a comment above), in the working copy only.
node - "$work" "$here/koa-static.exclusions" <<'JS'
const fs = require('fs');
const path = require('path');

const [work, list] = process.argv.slice(2);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
for (const line of fs.readFileSync(list, 'utf8').split('\n')) {
  if (line === '' || line.startsWith('#')) continue;
  const [file, name, reason] = line.split('\t');
  const target = path.join(work, 'test', file);
  const text = fs.readFileSync(target, 'utf8');
  const call = new RegExp(`(\\n[ \\t]*)it\\((\\s*)(['"\`])${escape(name)}\\3`);
  if (!call.test(text)) {
    console.error(`exclusion not found (renamed upstream?): ${file}: ${name}`);
    process.exitCode = 1;
    continue;
  }
  const skipped = text.replace(call, (_m, lead, space, q) => `${lead}// sluice: ${reason}${lead}it.skip(${space}${q}${name}${q}`);
  fs.writeFileSync(target, skipped);
}
JS

cd "$work"
set +e
npx mocha --exit --reporter spec test/index.js
status=$?
set -e
exit $status
