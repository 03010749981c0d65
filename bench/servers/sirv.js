'use strict';
// sirv in production mode on a bare http server, as its docs recommend:
// dev: false (file list and headers computed once at start-up), etag: true.
// usage: node sirv.js <root>

const http = require('node:http');
const sirv = require('sirv');

const root = process.argv[2];
if (!root) {
  process.stderr.write('usage: sirv.js <root>\n');
  process.exit(2);
}

const serve = sirv(root, { dev: false, etag: true });
const notFound = (req, res) => {
  res.statusCode = 404;
  res.end('Not Found');
};
const server = http.createServer((req, res) => serve(req, res, () => notFound(req, res)));
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`sirv listening on http://127.0.0.1:${server.address().port}\n`);
});
