'use strict';
// The ceiling for anything built on Node's HTTP layer: a bare http server
// answering the same bytes from memory (read once at start-up), with the
// headers a static server sends, precomputed. Single byte ranges only, so
// the harness can verify it like the others.
// usage: node node-memory.js <root> <file>...

const http = require('node:http');
const { loadFiles } = require('./memory-files');

const [root, ...names] = process.argv.slice(2);
if (!root || names.length === 0) {
  process.stderr.write('usage: node-memory.js <root> <file>...\n');
  process.exit(2);
}

const files = loadFiles(root, names);

const server = http.createServer((req, res) => {
  const entry = files.get(req.url);
  if (!entry) {
    res.writeHead(404, { 'Content-Length': '9' });
    res.end('Not Found');
    return;
  }
  const range = req.headers.range && /^bytes=(\d+)-(\d*)$/.exec(req.headers.range);
  if (range) {
    const size = entry.body.length;
    const start = Number(range[1]);
    const end = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
    if (start > end || start >= size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': '0' });
      res.end();
      return;
    }
    res.writeHead(206, {
      ...entry.headers,
      'Content-Length': String(end - start + 1),
      'Content-Range': `bytes ${start}-${end}/${size}`,
    });
    res.end(entry.body.subarray(start, end + 1));
    return;
  }
  res.writeHead(200, entry.headers);
  res.end(entry.body);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`node-memory listening on http://127.0.0.1:${server.address().port}\n`);
});
