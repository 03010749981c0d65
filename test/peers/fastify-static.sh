#!/usr/bin/env bash
# Runs @fastify/static's own test suite against sluice/fastify.
#
#   test/peers/fastify-static.sh <snapshot> [workdir]
#
# <snapshot>: a git directory (bare or not) or a checkout of
# github.com/fastify/fastify-static. The suite is set up in [workdir]
# (default /tmp/fastify-static-suite), never inside this repository: its
# test/ directory and fixtures, a package.json with its test dependencies,
# and in place of the package itself a shim index.js that re-exports this
# repository's dist/fastify.js (lib/errors.js re-exports its `errors`;
# lib/dirList.js, private to @fastify/static, has no counterpart). The
# tests listed in fastify-static.exclusions are marked skipped, with the
# reason. Needs the network once, for `npm install` of the suite's
# dependencies; not part of `npm test`.
set -euo pipefail

snapshot=${1:?usage: test/peers/fastify-static.sh <snapshot> [workdir]}
work=${2:-/tmp/fastify-static-suite}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
plugin="$repo/dist/fastify.js"

if [ ! -f "$plugin" ]; then
  (cd "$repo" && npx tsc -p tsconfig.json)
fi

mkdir -p "$work/lib"
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
// The package under test: sluice/fastify, in place of @fastify/static.
module.exports = require('$plugin')
EOF
cat >"$work/lib/errors.js" <<EOF
'use strict'
module.exports = require('$plugin').errors
EOF
cat >"$work/lib/dirList.js" <<'EOF'
'use strict'
// @fastify/static's private listing module: sluice has no such module.
const missing = () => { throw new Error('lib/dirList is private to @fastify/static') }
module.exports = { validateOptions: missing, path: missing, send: missing, list: missing, handle: missing }
EOF

# The suite's own test dependencies, at the versions its package.json asks for.
(
  cd "$work"
  node -e '
    const up = require("./upstream-package.json");
    const want = ["fastify", "@fastify/compress", "concat-stream", "pino", "proxyquire"];
    const deps = Object.fromEntries(want.map((n) => [n, up.devDependencies[n] || up.dependencies[n] || "*"]));
    const text = JSON.stringify({ name: "fastify-static-suite", private: true, dependencies: deps }, null, 2) + "\n";
    const fs = require("fs");
    if (!fs.existsSync("package.json") || fs.readFileSync("package.json", "utf8") !== text) fs.writeFileSync("package.json", text);
  '
  if [ ! -d node_modules/fastify ] || [ package.json -nt node_modules/.package-lock.json ]; then
    npm install --no-audit --no-fund --loglevel=error >&2
    touch node_modules/.package-lock.json
  fi
)

# Mark the excluded tests skipped, in the working copy only.
node - "$work" "$here/fastify-static.exclusions" <<'JS'
const fs = require('fs');
const path = require('path');
const [work, list] = process.argv.slice(2);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
for (const line of fs.readFileSync(list, 'utf8').split('\n')) {
  if (line === '' || line.startsWith('#')) continue;
  const [file, name, reason] = line.split('\t');
  const target = path.join(work, 'test', file);
  const text = fs.readFileSync(target, 'utf8');
  const call = new RegExp(`(^|\\n)test\\((\\s*)(['"\`])${escape(name)}\\3`);
  if (!call.test(text)) {
    console.error(`exclusion not found (renamed upstream?): ${file}: ${name}`);
    process.exitCode = 1;
    continue;
  }
  const skipped = text.replace(call, (_m, lead, space, q) => `${lead}test(${space}${q}${name}${q}, { skip: ${JSON.stringify(`sluice: ${reason}`)} }`);
  fs.writeFileSync(target, skipped);
}
JS

cd "$work"
tap="$work/results.tap"
set +e
node --test --test-reporter=tap test/*.test.js >"$tap" 2>&1
status=$?
set -e

# Summary: node's own counts, then every failing test by its full name.
node - "$tap" <<'JS'
const fs = require('fs');
const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n');
const stack = [];
const failed = [];
let top = { ok: 0, failed: 0, skipped: 0 };
for (const line of lines) {
  const m = /^( *)(not ok|ok) \d+ - (.*?)(?: # (SKIP|TODO).*)?$/.exec(line);
  if (!m) continue;
  const depth = m[1].length / 4;
  stack.length = depth;
  stack[depth] = m[3];
  const skipped = m[4] === 'SKIP';
  if (depth === 0) top[skipped ? 'skipped' : m[2] === 'ok' ? 'ok' : 'failed']++;
  if (m[2] === 'not ok') failed.push(stack.slice(0, depth + 1).join(' > '));
}
const summary = lines.filter((l) => /^# (tests|pass|fail|cancelled|skipped|todo) /.test(l)).map((l) => l.slice(2));
console.log(`top-level tests: ${top.ok} passed, ${top.failed} failed, ${top.skipped} skipped`);
console.log(`all tests and subtests: ${summary.join(', ')}`);
if (failed.length) console.log(`failing:\n  ${failed.join('\n  ')}`);
JS
echo "TAP output: $tap" >&2
exit $status
