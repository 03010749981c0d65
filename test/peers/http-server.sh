#!/usr/bin/env bash
# Runs http-server's own test suite against sluice's http-server mode.
#
#   test/peers/http-server.sh <snapshot> [workdir]
#
# <snapshot>: a git directory (bare or not) or a checkout of
# github.com/http-party/http-server. The suite is set up in [workdir]
# (default /tmp/http-server-suite), never inside this repository: its test/
# directory and fixtures, a package.json with its test dependencies (tap,
# request, portfinder, ws, eol), and in place of the package itself
#   bin/http-server      runs dist/http-server-sluice.js (the command line),
#   lib/http-server.js   turns createServer(options) into the command line
#                        the mode reads (options → flags → sluice options),
#                        so the library tests exercise the same mapping.
# Tests listed in http-server.exclusions are marked skipped with the reason
# (a name of * leaves the whole file out). Needs the network once, for
# `npm install` of the suite's dependencies; not part of `npm test`.
set -euo pipefail

snapshot=${1:?usage: test/peers/http-server.sh <snapshot> [workdir]}
work=${2:-/tmp/http-server-suite}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
dist="$repo/dist"

if [ ! -f "$dist/http-server-sluice.js" ]; then
  (cd "$repo" && npx tsc -p tsconfig.json)
fi

mkdir -p "$work/lib" "$work/bin"
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

cat >"$work/bin/http-server" <<EOF
#!/usr/bin/env node
'use strict';
// The command under test: sluice's http-server mode.
require('$dist/http-server-sluice.js');
EOF
chmod +x "$work/bin/http-server"

cat >"$work/lib/http-server.js" <<EOF
'use strict';
// http-server's createServer(options), as sluice's http-server mode: the
// options become the flags they stand for, read by the mode as the
// command line would be, and served by sluice's createServer.
const path = require('path');
const { httpServerMode, withMode } = require('$dist/compat-http-server.js');
const cli = require('$dist/cli-options.js');
const sluice = require('$dist/index.js');

function flagsOf(o) {
  const a = [o.root || (require('fs').existsSync('./public') ? './public' : './')];
  const value = (flag, v) => v !== undefined && v !== null && a.push(flag, String(v));
  if (o.cache !== undefined) a.push('-c' + o.cache);
  value('-t', o.timeout);
  value('-d', o.showDir);
  value('-i', o.autoIndex);
  if (o.gzip === true) a.push('-g');
  if (o.brotli === true) a.push('-b');
  if (o.ext) value('-e', o.ext === true ? 'html' : o.ext);
  if (o.robots) a.push(o.robots === true ? '-r' : '--robots=' + o.robots);
  value('-P', o.proxy);
  if (o.proxyAll) a.push('--proxy-all');
  if (o.proxyConfig) a.push('--proxy-config', JSON.stringify(o.proxyConfig));
  if (o.proxyOptions) a.push('--proxy-options', JSON.stringify(o.proxyOptions));
  if (o.websocket) a.push('--websocket');
  if (o.showDotfiles === false) a.push('--no-dotfiles');
  value('--mimetypes', o.mimetypes);
  value('--username', o.username);
  value('--password', o.password);
  if (o.cors) a.push(o.corsHeaders ? '--cors=' + o.corsHeaders : '--cors');
  if (o.coop) a.push(o.coopHeader ? '--coop=' + o.coopHeader : '--coop');
  if (o.privateNetworkAccess) a.push('--private-network-access');
  value('--base-dir', o.baseDir);
  if (o.dirOverrides404) a.push('--dir-overrides-404');
  if (o.forceContentEncoding) a.push('--force-content-encoding');
  value('--content-type', o.contentType);
  for (const [k, v] of Object.entries(o.headers || {})) a.push('-H', k + ': ' + v);
  if (o.https) a.push('-S', '-C', o.https.cert, '-K', o.https.key);
  a.push('-s');
  return a;
}

function HttpServer(options) {
  const mode = httpServerMode(flagsOf(options || {}), {});
  const { values, positionals } = cli.parseCommandLine(mode.argv);
  this.root = positionals[0];
  const plan = cli.serveOptions(values, path.resolve(positionals[0]));
  const tls = cli.tlsOptions(values);
  const opts = withMode(plan.options, mode);
  this.server = tls === null ? sluice.createServer(plan.root, opts) : sluice.createSecureServer(plan.root, { ...opts, ...tls });
}
HttpServer.prototype.listen = function () {
  return this.server.listen.apply(this.server, arguments);
};
HttpServer.prototype.close = function () {
  this.server.closeAllConnections();
  return this.server.close();
};
HttpServer.prototype.address = function () {
  return this.server.address();
};
exports.HttpServer = exports.HTTPServer = HttpServer;
exports.createServer = (options) => new HttpServer(options);
EOF

cat >"$work/lib/core.js" <<'EOF'
'use strict';
// http-server's middleware (lib/core, ecstatic's successor): not part of the command line.
module.exports = () => { throw new Error('lib/core is http-server middleware; sluice offers serveStatic instead'); };
EOF

(
  cd "$work"
  node -e '
    const up = require("./upstream-package.json");
    const want = ["tap", "request", "portfinder", "eol"];
    const deps = Object.fromEntries(want.map((n) => [n, (up.devDependencies || {})[n] || (up.dependencies || {})[n] || "*"]));
    deps.ws = "*";
    const text = JSON.stringify({ name: "http-server-suite", private: true, dependencies: deps }, null, 2) + "\n";
    const fs = require("fs");
    if (!fs.existsSync("package.json") || fs.readFileSync("package.json", "utf8") !== text) fs.writeFileSync("package.json", text);
  '
  if [ ! -d node_modules/tap ] || [ package.json -nt node_modules/.package-lock.json ]; then
    npm install --no-audit --no-fund --loglevel=error >&2
    touch node_modules/.package-lock.json
  fi
)

# Skip the excluded tests (whole files for *), in the working copy only.
node - "$work" "$here/http-server.exclusions" <<'JS'
const fs = require('fs');
const path = require('path');
const [work, list] = process.argv.slice(2);
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const leftOut = [];
for (const line of fs.readFileSync(list, 'utf8').split('\n')) {
  if (line === '' || line.startsWith('#')) continue;
  const [file, name, reason] = line.split('\t');
  const target = path.join(work, 'test', file);
  if (!fs.existsSync(target)) {
    console.error(`exclusion not found (removed upstream?): ${file}`);
    process.exitCode = 1;
    continue;
  }
  if (name === '*') {
    fs.renameSync(target, `${target}.excluded`);
    leftOut.push(file);
    continue;
  }
  const text = fs.readFileSync(target, 'utf8');
  const call = new RegExp(`(^|\\n)test\\((\\s*)(['"\`])${escape(name)}\\3,`);
  if (!call.test(text)) {
    console.error(`exclusion not found (renamed upstream?): ${file}: ${name}`);
    process.exitCode = 1;
    continue;
  }
  fs.writeFileSync(target, text.replace(call, (_m, lead, space, q) => `${lead}test(${space}${q}${name}${q}, { skip: ${JSON.stringify(`sluice: ${reason}`)} },`));
}
fs.writeFileSync(path.join(work, 'left-out.txt'), leftOut.join('\n') + '\n');
JS

cd "$work"
tap="$work/results.tap"
set +e
npx tap --reporter=tap --allow-incomplete-coverage --disable-coverage test/*.test.js >"$tap" 2>&1
status=$?
set -e

node - "$tap" "$work/left-out.txt" <<'JS'
const fs = require('fs');
const lines = fs.readFileSync(process.argv[2], 'utf8').split('\n');
const leftOut = fs.readFileSync(process.argv[3], 'utf8').split('\n').filter(Boolean);
const stack = [];
const failed = [];
const count = { files: 0, filesFailed: 0, ok: 0, failed: 0, skipped: 0 };
for (const line of lines) {
  const sub = /^( *)# Subtest: (.*)$/.exec(line);
  if (sub) {
    stack.length = sub[1].length / 4;
    stack.push(sub[2]);
    continue;
  }
  const m = /^( *)(not ok|ok) \d+ - (.*?)(?: # (SKIP|TODO).*)?$/.exec(line);
  if (!m) continue;
  const depth = m[1].length / 4;
  const name = m[3].replace(/ # time=.*$/, '');
  if (depth === 0) {
    count.files++;
    if (m[2] === 'not ok') count.filesFailed++;
  } else if (depth === 1) {
    count[m[4] === 'SKIP' ? 'skipped' : m[2] === 'ok' ? 'ok' : 'failed']++;
    if (m[2] === 'not ok') failed.push(`${stack[0]} > ${name}`);
  }
}
console.log(`files run: ${count.files} (${count.filesFailed} failing); files left out: ${leftOut.length}`);
console.log(`tests: ${count.ok} passed, ${count.failed} failed, ${count.skipped} skipped (excluded)`);
if (failed.length) console.log(`failing:\n  ${failed.join('\n  ')}`);
JS
echo "TAP output: $tap" >&2
exit $status
