#!/usr/bin/env bash
# Runs koa-send's (@koa/send's) own test suite against sluice/koa's send.
#
#   test/peers/koa-send.sh <snapshot> [workdir]
#
# <snapshot>: a git directory (bare or not) or a checkout of
# github.com/koajs/send. The suite is set up in [workdir] (default
# /tmp/koa-send-suite), never inside this repository: its test/ directory
# and fixtures, its jest and TypeScript configuration, a package.json with
# its test dependencies (koa 3, jest, ts-jest, supertest, brotli, at the
# versions its package.json asks for), and in place of its sources a shim
# src/index.ts that re-exports `send` from this repository's dist/koa.js
# (typed by dist/koa.d.ts, so ts-jest also checks that Koa's context fits
# sluice's types). The tests listed in koa-send.exclusions are marked
# skipped, with the reason. Needs the network once, for `npm install` of
# the suite's dependencies; not part of `npm test`.
set -euo pipefail

snapshot=${1:?usage: test/peers/koa-send.sh <snapshot> [workdir]}
work=${2:-/tmp/koa-send-suite}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
adapter="$repo/dist/koa"

if [ ! -f "$adapter.js" ]; then
  (cd "$repo" && npx tsc -p tsconfig.json)
fi

mkdir -p "$work/src"
rm -rf "$work/test"
files="test package.json jest.config.ts tsconfig.json"
if git --git-dir="$snapshot" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  git --git-dir="$snapshot" archive HEAD $files | tar -x -C "$work" --transform 's,^package.json$,upstream-package.json,'
  echo "suite: $(git --git-dir="$snapshot" log -1 --format='%h %s' HEAD)" >&2
elif [ -d "$snapshot/.git" ]; then
  git -C "$snapshot" archive HEAD $files | tar -x -C "$work" --transform 's,^package.json$,upstream-package.json,'
  echo "suite: $(git -C "$snapshot" log -1 --format='%h %s' HEAD)" >&2
else
  for f in $files; do cp -r "$snapshot/$f" "$work/"; done
  mv "$work/package.json" "$work/upstream-package.json"
fi

cat >"$work/src/index.ts" <<EOF
// The package under test: sluice/koa's send, in place of @koa/send's sources.
import sluiceKoa = require('$adapter');
export const send = sluiceKoa.send;
EOF

# The suite's own test dependencies, at the versions its package.json asks for.
(
  cd "$work"
  node -e '
    const up = require("./upstream-package.json");
    const want = ["koa", "jest", "ts-jest", "ts-node", "typescript", "supertest", "brotli",
      "@types/jest", "@types/koa", "@types/node", "@types/supertest", "@types/brotli"];
    const deps = Object.fromEntries(want.map((n) => [n, up.devDependencies[n] || up.dependencies[n] || "*"]));
    const text = JSON.stringify({ name: "koa-send-suite", private: true, dependencies: deps }, null, 2) + "\n";
    const fs = require("fs");
    if (!fs.existsSync("package.json") || fs.readFileSync("package.json", "utf8") !== text) fs.writeFileSync("package.json", text);
  '
  if [ ! -d node_modules/jest ] || [ package.json -nt node_modules/.package-lock.json ]; then
    npm install --no-audit --no-fund --loglevel=error >&2
    touch node_modules/.package-lock.json
  fi
)

# Mark the excluded tests skipped (`it(` becomes `it.skip(`, the reason in a comment above), in the working copy only.
node - "$work" "$here/koa-send.exclusions" <<'JS'
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
npx jest --detectOpenHandles --verbose 2>&1
status=$?
set -e
exit $status
