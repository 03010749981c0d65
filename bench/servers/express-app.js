'use strict';
// An Express 5 app whose only middleware serves static files, with either
// serve-static (the Express default) or sluice's drop-in serveStatic.
// With `compression` as the third argument, Express's compression
// middleware compresses every response on the fly in front of serve-static.
// usage: node express-app.js <root> serve-static|sluice [engine|compression]
// Run with NODE_ENV=production, as Express recommends.

const path = require('node:path');
const express = require('express');

const [root, which = 'serve-static', engine = 'auto'] = process.argv.slice(2);
if (!root) {
  process.stderr.write('usage: express-app.js <root> serve-static|sluice [engine]\n');
  process.exit(2);
}

let middleware;
let note = 'serve-static';
if (which === 'sluice') {
  const sluice = require(path.join(__dirname, '..', '..', 'dist'));
  try {
    middleware = sluice.serveStatic(root, { engine });
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  note = `sluice engine=${middleware.engine}`;
} else {
  middleware = require('serve-static')(root);
}

const app = express();
app.disable('x-powered-by');
if (which === 'serve-static' && engine === 'compression') {
  app.use(require('compression')());
  note = 'serve-static + compression';
}
app.use(middleware);

const server = app.listen(0, '127.0.0.1', (err) => {
  if (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`express listening on http://127.0.0.1:${server.address().port} ${note}\n`);
});
