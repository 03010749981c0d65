'use strict';
// A Koa 3 app whose only middleware serves static files, with either
// koa-static (koa-send underneath: a read stream piped by Koa) or sluice's
// drop-in sluice/koa, given the same options (koa-static's defaults).
// usage: node koa-app.js <root> koa-static|sluice [engine]

const path = require('node:path');
const Koa = require('koa');

const [root, which = 'koa-static', engine = 'auto'] = process.argv.slice(2);
if (!root || !['koa-static', 'sluice'].includes(which)) {
  process.stderr.write('usage: koa-app.js <root> koa-static|sluice [engine]\n');
  process.exit(2);
}

let middleware;
let note = 'koa-static';
if (which === 'sluice') {
  const serve = require(path.join(__dirname, '..', '..', 'dist', 'koa.js'));
  try {
    middleware = serve(root, { engine });
  } catch (err) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  note = `sluice/koa engine=${engine}`;
} else {
  middleware = require('koa-static')(root);
}

const app = new Koa();
app.use(middleware);

const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`koa listening on http://127.0.0.1:${server.address().port} ${note}\n`);
});
server.on('error', (err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
