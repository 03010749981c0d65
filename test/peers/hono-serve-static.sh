#!/usr/bin/env bash
# Runs @hono/node-server's own serve-static tests against sluice/hono.
#
#   test/peers/hono-serve-static.sh <snapshot> [workdir]
#
# <snapshot>: a git directory (bare or not) or a checkout of
# github.com/honojs/node-server. The suite is set up in [workdir] (default
# /tmp/hono-serve-static-suite), never inside this repository: the
# snapshot's src/, test/ and vitest config, with src/serve-static.ts
# replaced by a shim that re-exports this repository's dist/hono.js (the
# rest of src/ is @hono/node-server itself: the server the tests start), and
# vitest and hono installed there at the versions its package.json asks for.
# The tests listed in hono-serve-static.exclusions are marked skipped, with
# the reason. Needs the network once, for `npm install`; not part of `npm test`.
set -euo pipefail

snapshot=${1:?usage: test/peers/hono-serve-static.sh <snapshot> [workdir]}
work=${2:-/tmp/hono-serve-static-suite}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
adapter="$repo/dist/hono.js"

if [ ! -f "$adapter" ]; then
  (cd "$repo" && npx tsc -p tsconfig.json)
fi

mkdir -p "$work"
rm -rf "$work/src" "$work/test"
files="src test vitest.config.ts tsconfig.json package.json"
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

cat >"$work/src/serve-static.ts" <<SHIM
// The middleware under test: sluice/hono, in place of @hono/node-server's serveStatic.
export { serveStatic } from '$adapter'
export type { ServeStaticOptions } from '$repo/dist/hono'
SHIM

# The suite's own test dependencies, at the versions its package.json asks for.
(
  cd "$work"
  node -e '
    const up = require("./upstream-package.json");
    const want = ["vitest", "hono", "@types/node", "typescript"];
    const deps = Object.fromEntries(want.map((n) => [n, (up.devDependencies || {})[n] || (up.peerDependencies || {})[n] || "*"]));
    const text = JSON.stringify({ name: "hono-serve-static-suite", private: true, dependencies: deps }, null, 2) + "\n";
    const fs = require("fs");
    if (!fs.existsSync("package.json") || fs.readFileSync("package.json", "utf8") !== text) fs.writeFileSync("package.json", text);
  '
  if [ ! -d node_modules/vitest ] || [ package.json -nt node_modules/.package-lock.json ]; then
    npm install --no-audit --no-fund --loglevel=error >&2
    touch node_modules/.package-lock.json
  fi
)

# Mark the excluded tests skipped (vitest's `{ skip: true }` options), in the working copy only.
node - "$work" "$here/hono-serve-static.exclusions" <<'JS'
const fs = require('fs');
const path = require('path');
const [work, list] = process.argv.slice(2);
for (const line of fs.readFileSync(list, 'utf8').split('\n')) {
  if (line === '' || line.startsWith('#')) continue;
  const [file, name, reason] = line.split('\t');
  const target = path.join(work, 'test', file);
  const text = fs.readFileSync(target, 'utf8');
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const call = new RegExp(`\\(\\s*(['"\`])${escaped}\\1`).exec(text);
  if (call === null || !reason) {
    console.error(`exclusion not found (renamed upstream?) or without a reason: ${file}: ${name}`);
    process.exitCode = 1;
    continue;
  }
  const end = call.index + call[0].length;
  fs.writeFileSync(target, `${text.slice(0, end)}, { skip: true } /* sluice: ${reason.replace(/\*\//g, '')} */${text.slice(end)}`);
}
JS

cd "$work"
report="$work/results.json"
set +e
npx vitest run test/serve-static.test.ts --reporter=default --reporter=json --outputFile="$report" >"$work/results.txt" 2>&1
status=$?
set -e

node - "$report" "$here/hono-serve-static.exclusions" <<'JS'
const fs = require('fs');
const [report, list] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(report, 'utf8'));
const tests = r.testResults.flatMap((f) => f.assertionResults);
const count = (s) => tests.filter((t) => t.status === s).length;
console.log(`tests: ${count('passed')} passed, ${count('failed')} failed, ${count('pending') + count('skipped')} skipped (of ${tests.length})`);
for (const t of tests.filter((t) => t.status === 'failed')) console.log(`failing: ${t.fullName}\n  ${(t.failureMessages[0] || '').split('\n')[0]}`);
const reasons = new Map(fs.readFileSync(list, 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('\t').slice(1, 3)));
for (const t of tests.filter((t) => t.status === 'pending' || t.status === 'skipped')) console.log(`skipped: ${t.fullName}${reasons.has(t.title) ? ` (sluice: ${reasons.get(t.title)})` : ''}`);
JS
echo "vitest output: $work/results.txt" >&2
exit $status
