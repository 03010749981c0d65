'use strict';
// Fastify 5 with @fastify/static at the root, logger off (the default).
// usage: node fastify-static.js <root>

const fastify = require('fastify')({ logger: false });

const root = process.argv[2];
if (!root) {
  process.stderr.write('usage: fastify-static.js <root>\n');
  process.exit(2);
}

fastify.register(require('@fastify/static'), { root, prefix: '/' });
fastify.listen({ host: '127.0.0.1', port: 0 }).then(
  () => {
    process.stdout.write(`fastify listening on http://127.0.0.1:${fastify.server.address().port}\n`);
  },
  (err) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  },
);
