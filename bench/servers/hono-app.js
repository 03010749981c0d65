'use strict';
// Hono 4 on @hono/node-server serving files at the root, with either
// @hono/node-server's own serveStatic or sluice's drop-in sluice/hono,
// given the same options, in the same app.
// usage: node hono-app.js <root> node-server|sluice

const path = require('node:path');

const [root, which = 'node-server'] = process.argv.slice(2);
if (!root || !['node-server', 'sluice'].includes(which)) {
  process.stderr.write('usage: hono-app.js <root> node-server|sluice\n');
  process.exit(2);
}

const { Hono } = require('hono');
const { serve } = require('@hono/node-server');
const { serveStatic } = which === 'sluice' ? require(path.join(__dirname, '..', '..', 'dist', 'hono.js')) : require('@hono/node-server/serve-static');

const app = new Hono();
app.use('/*', serveStatic({ root: path.resolve(root) }));

const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  process.stdout.write(`hono listening on http://127.0.0.1:${info.port} ${which}\n`);
});
server.on('error', (err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
