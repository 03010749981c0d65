'use strict';
// Fastify 5 (logger off, the default) serving files at the root, with either
// @fastify/static or sluice's drop-in sluice/fastify, registered with the
// same options: the plugin's own wildcard route ('serve'), or no routes of
// its own and a catch-all route answering every GET with one file through
// reply.sendFile, as an SPA does with its index.html ('sendfile').
// usage: node fastify-app.js <root> static|sluice serve|sendfile [file]

const path = require('node:path');

const [root, which = 'static', mode = 'serve', file = 'index.html'] = process.argv.slice(2);
if (!root || !['static', 'sluice'].includes(which) || !['serve', 'sendfile'].includes(mode)) {
  process.stderr.write('usage: fastify-app.js <root> static|sluice serve|sendfile [file]\n');
  process.exit(2);
}

const fastify = require('fastify')({ logger: false });
const plugin = which === 'sluice' ? require(path.join(__dirname, '..', '..', 'dist', 'fastify.js')) : require('@fastify/static');

fastify.register(plugin, { root: path.resolve(root), prefix: '/', serve: mode === 'serve' });
if (mode === 'sendfile') fastify.get('/*', (_request, reply) => reply.sendFile(file));

fastify.listen({ host: '127.0.0.1', port: 0 }).then(
  () => {
    process.stdout.write(`fastify listening on http://127.0.0.1:${fastify.server.address().port} ${which} ${mode}\n`);
  },
  (err) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  },
);
