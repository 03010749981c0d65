#!/usr/bin/env bash
# Runs @nestjs/serve-static's own e2e suite against sluice/nest.
#
#   test/peers/nest-serve-static.sh <snapshot> [workdir]
#
# <snapshot>: a git directory (bare or not) or a checkout of
# github.com/nestjs/serve-static. The suite is set up in [workdir]
# (default /tmp/nest-serve-static-suite), never inside this repository:
# its tests/ directory, vitest.config.ts and tsconfig.json, a package.json
# with the suite's own dependencies at the versions its package.json asks
# for (Nest, Express, Fastify, vitest, supertest) and sluice's runtime
# dependencies, sluice itself as an installed package would be (dist/,
# package.json and the built addon, copied into node_modules/sluice, so it
# resolves Nest from the suite as a user's install does), and in place of
# the package under test a shim lib/index.js that re-exports sluice/nest.
# The tests listed in nest-serve-static.exclusions are marked skipped; the
# reasons are printed. Needs the network once, for `npm install`; not part
# of `npm test`.
set -euo pipefail

snapshot=${1:?usage: test/peers/nest-serve-static.sh <snapshot> [workdir]}
work=${2:-/tmp/nest-serve-static-suite}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ ! -f "$repo/dist/nest.js" ]; then
  (cd "$repo" && npx tsc -p tsconfig.json)
fi
if [ ! -f "$repo/native/build/Release/sluice.node" ]; then
  echo "note: no built addon in $repo/native/build/Release: the suite runs on the copy engine" >&2
fi

mkdir -p "$work/lib"
rm -rf "$work/tests"
pick=(tests vitest.config.ts tsconfig.json package.json)
if git --git-dir="$snapshot" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  git --git-dir="$snapshot" archive HEAD "${pick[@]}" | tar -x -C "$work" --transform 's,^package.json$,upstream-package.json,'
  echo "suite: $(git --git-dir="$snapshot" log -1 --format='%h %s' HEAD)" >&2
elif [ -d "$snapshot/.git" ]; then
  git -C "$snapshot" archive HEAD "${pick[@]}" | tar -x -C "$work" --transform 's,^package.json$,upstream-package.json,'
  echo "suite: $(git -C "$snapshot" log -1 --format='%h %s' HEAD)" >&2
else
  cp -r "$snapshot/tests" "$snapshot/vitest.config.ts" "$snapshot/tsconfig.json" "$work/"
  cp "$snapshot/package.json" "$work/upstream-package.json"
fi

cat >"$work/lib/index.js" <<'EOF'
// The package under test: sluice/nest, in place of @nestjs/serve-static.
export * from 'sluice/nest';
EOF

# The suite's dependencies at its versions, and sluice's runtime dependencies at the repository's.
(
  cd "$work"
  node - "$repo/package.json" <<'JS'
    const fs = require("fs");
    const up = require("./upstream-package.json");
    const own = require(process.argv[2]);
    const want = ["@nestjs/common", "@nestjs/core", "@nestjs/platform-express", "@nestjs/platform-fastify", "express", "fastify",
      "reflect-metadata", "rxjs", "supertest", "vite", "vitest"];
    const deps = Object.fromEntries(want.map((n) => [n, up.devDependencies[n] || up.dependencies[n] || "*"]));
    Object.assign(deps, own.dependencies);
    delete deps["node-addon-api"];
    const pkg = { name: "nest-serve-static-suite", private: true, type: "module", dependencies: deps };
    const text = JSON.stringify(pkg, null, 2) + "\n";
    if (!fs.existsSync("package.json") || fs.readFileSync("package.json", "utf8") !== text) fs.writeFileSync("package.json", text);
JS
  if [ ! -d node_modules/vitest ] || [ package.json -nt node_modules/.package-lock.json ]; then
    npm install --no-audit --no-fund --loglevel=error >&2
    touch node_modules/.package-lock.json
  fi
)

# sluice as installed: after npm install, which would prune it.
pkg="$work/node_modules/sluice"
rm -rf "$pkg"
mkdir -p "$pkg/native/build/Release"
cp "$repo/package.json" "$pkg/"
cp -r "$repo/dist" "$pkg/dist"
if [ -f "$repo/native/build/Release/sluice.node" ]; then cp "$repo/native/build/Release/sluice.node" "$pkg/native/build/Release/"; fi

# Mark the excluded tests skipped, in the working copy only.
node - "$work" "$here/nest-serve-static.exclusions" <<'JS'
const fs = require('fs');
const path = require('path');
const [work, list] = process.argv.slice(2);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
for (const line of fs.readFileSync(list, 'utf8').split('\n')) {
  if (line === '' || line.startsWith('#')) continue;
  const [file, name, reason] = line.split('\t');
  const target = path.join(work, 'tests', file);
  const text = fs.readFileSync(target, 'utf8');
  const call = new RegExp(`\\b(describe|it)\\((\\s*)(['"\`])${escape(name)}\\3`);
  if (!call.test(text)) {
    console.error(`exclusion not found (renamed upstream?): ${file}: ${name}`);
    process.exitCode = 1;
    continue;
  }
  fs.writeFileSync(target, text.replace(call, (_m, fn, space, q) => `${fn}.skip(${space}${q}${name}${q}`));
  console.error(`skipped: ${file}: ${name}\n  (${reason})`);
}
JS

cd "$work"
log="$work/results.txt"
set +e
NO_COLOR=1 FORCE_COLOR=0 npx vitest run --reporter=verbose >"$log" 2>&1
status=$?
set -e
grep -E '^ +(✓|×|↓)|Test Files|Tests ' "$log" | sed -E 's/ [0-9]+ms$//' || true
echo "full output: $log" >&2
exit $status
