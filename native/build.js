#!/usr/bin/env node
'use strict';
// Builds the native addon during `npm install` / `npm ci`.
//
// A machine without a compiler (or not Linux) must still get a working
// install: the server then runs on the `copy` engine and says so once at
// start-up. Set SLUICE_REQUIRE_NATIVE=1 (CI does) to make a failed build
// fail the install instead.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const required = process.env.SLUICE_REQUIRE_NATIVE === '1';

function nodeGypCommand() {
  try {
    return [process.execPath, require.resolve('node-gyp/bin/node-gyp.js')];
  } catch {
    // Installed as a dependency without our devDependencies: npm provides
    // its bundled node-gyp to install scripts.
    if (process.env.npm_config_node_gyp) {
      return [process.execPath, process.env.npm_config_node_gyp];
    }
    return ['node-gyp'];
  }
}

if (process.platform !== 'linux' && !required) {
  console.log('sluice: not Linux; skipping the native addon (the copy engine will serve)');
  process.exit(0);
}

// Build against the headers of the running Node when they are installed next
// to it (distribution packages ship them), so no header download is needed.
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

const [cmd, ...args] = nodeGypCommand();
const result = spawnSync(cmd, [...args, 'rebuild', '--directory', __dirname, ...nodedirArgs()], {
  stdio: 'inherit',
  cwd: path.join(__dirname, '..'),
});
if (result.status === 0) process.exit(0);

const why = result.error ? result.error.message : `node-gyp exited with ${result.status}`;
if (required) {
  console.error(`sluice: native addon build failed (${why})`);
  process.exit(1);
}
console.warn(`sluice: native addon not built (${why}); bodies will be copied. To fix: install g++ and make, then run \`npm rebuild sluice\``);
process.exit(0);
