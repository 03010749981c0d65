'use strict';
// The ceiling for anything built on Node's TLS: a bare `https` server (or,
// with --http2, an `http2` secure server that also answers HTTP/1.1) answering
// the same bytes from memory (read once at start-up) with the headers a
// static server sends, one res.end(body) per request, Node's defaults
// otherwise. With --core, HTTP/2 streams are answered on the core API
// (stream.respond(headers), stream.end(body)) rather than through the
// compatibility layer's request and response objects.
// usage: node node-tls-memory.js <cert> <key> [--http2 [--core]] <root> <file>...

const fs = require('node:fs');
const http2 = require('node:http2');
const https = require('node:https');
const { loadFiles } = require('./memory-files');

const args = process.argv.slice(2);
const h2 = args.includes('--http2');
const core = h2 && args.includes('--core');
const [certFile, keyFile, root, ...names] = args.filter((a) => a !== '--http2' && a !== '--core');
if (!certFile || !keyFile || !root || names.length === 0) {
  process.stderr.write('usage: node-tls-memory.js <cert> <key> [--http2] <root> <file>...\n');
  process.exit(2);
}

const files = loadFiles(root, names);

function handler(req, res) {
  const entry = files.get(req.url);
  if (!entry) {
    res.writeHead(404, { 'Content-Length': '9' });
    res.end('Not Found');
    return;
  }
  res.writeHead(200, entry.headers);
  res.end(entry.body);
}

/** The same answers on the core API: one respond() and one end(body) a stream. */
function onStream(stream, headers) {
  const entry = files.get(headers[':path']);
  if (!entry) {
    stream.respond({ ':status': 404, 'content-length': '9' });
    stream.end('Not Found');
    return;
  }
  stream.respond(entry.h2);
  stream.end(entry.body);
}

const tls = { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
const server = h2 ? http2.createSecureServer({ ...tls, allowHTTP1: true }, handler) : https.createServer(tls, handler);
if (core) {
  for (const entry of files.values()) entry.h2 = { ':status': 200, ...Object.fromEntries(Object.entries(entry.headers).map(([k, v]) => [k.toLowerCase(), v])) };
  // Without a 'stream' listener of Node's compatibility layer: only HTTP/1.1 reaches 'request'.
  server.removeAllListeners('stream');
  server.on('stream', onStream);
}
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`node-tls-memory listening on https://127.0.0.1:${server.address().port}\n`);
});
