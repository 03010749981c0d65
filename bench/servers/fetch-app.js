'use strict';
/* global Response */
// One fetch handler answering GET /NAME with the file NAME under root, on
// two hosts: sluice's createServer(root, { fetch }) returning file() (sent
// zero-copy through the engine), or @hono/node-server's serve returning
// the file as a Web stream (new Response(Readable.toWeb(fs.createReadStream(p)))
// with its Content-Length and Content-Type, as a fetch app would write it).
// usage: node fetch-app.js <root> sluice|hono [engine]
// Run with NODE_ENV=production.

const fs = require('node:fs');
const path = require('node:path');
const { Readable } = require('node:stream');

const [root, which = 'sluice', engine = 'auto'] = process.argv.slice(2);
if (!root || (which !== 'sluice' && which !== 'hono')) {
  process.stderr.write('usage: fetch-app.js <root> sluice|hono [engine]\n');
  process.exit(2);
}
const absRoot = path.resolve(root);

function announce(server, note) {
  process.stdout.write(`fetch listening on http://127.0.0.1:${server.address().port} ${note}\n`);
}

if (which === 'sluice') {
  const { createServer, file } = require(path.join(__dirname, '..', '..', 'dist', 'fetch'));
  let server;
  try {
    server = createServer(absRoot, {
      engine,
      fetch: (request) => file(request, decodeURIComponent(new URL(request.url).pathname), { root: absRoot }),
    });
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  server.listen(0, '127.0.0.1', () => announce(server, `sluice file() engine=${server.sluice.engine}`));
} else {
  const { serve } = require('@hono/node-server');
  const mime = require('mime-types');
  const fetch = async (request) => {
    const name = path.join(absRoot, path.normalize(decodeURIComponent(new URL(request.url).pathname)));
    if (!name.startsWith(absRoot + path.sep)) return new Response('forbidden', { status: 403 });
    let stat;
    try {
      stat = await fs.promises.stat(name);
    } catch {
      return new Response('not found', { status: 404 });
    }
    const headers = { 'content-length': String(stat.size), 'content-type': mime.contentType(path.extname(name)) || 'application/octet-stream' };
    return new Response(Readable.toWeb(fs.createReadStream(name)), { headers });
  };
  const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => announce(server, '@hono/node-server Web stream'));
}
