'use strict';
// sluice's createServer for the soak (bench/soak.js): one engine, a compress
// cache, a short send timeout (so stalled readers are cut off within the
// run), and the event loop's delay sent over IPC once a second (p99 and max
// of that second, ms) with V8's heap and the memory outside it (Buffers,
// the addon), so that RSS growth can be told apart: the heap settling or
// native memory growing. The harness samples RSS and descriptors from /proc.
// keepAliveTimeout is a minute: that timer starts once the last byte is in
// the kernel's socket buffers, and a load generator short of CPU can take
// longer than the default 5 s to read them out after a large body; its next
// request then races the server's FIN, which is the client's to retry (as
// browsers do), not a fault of the server. Idle lanes close their own.
// usage: node sluice-soak.js <root> <engine> <cache dir> <send timeout ms>

const { monitorEventLoopDelay } = require('node:perf_hooks');
const sluice = require('../../dist');

const [root, engine, cache, sendTimeout] = process.argv.slice(2);
if (!root || !engine || !cache || !sendTimeout) {
  process.stderr.write('usage: sluice-soak.js <root> <engine> <cache dir> <send timeout ms>\n');
  process.exit(2);
}

let server;
try {
  server = sluice.createServer(root, { engine, compress: { dir: cache }, sendTimeout: Number(sendTimeout), keepAliveTimeout: 60_000 });
} catch (err) {
  // An engine this machine lacks (io_uring under a seccomp profile, say): the harness reports why.
  process.stdout.write(`unavailable: ${err.code ?? ''} ${err.message}\n`);
  process.exit(3);
}
if (server.sluice.engine !== engine && engine !== 'auto') {
  process.stdout.write(`unavailable: asked for ${engine}, runs ${server.sluice.engine} (${server.sluice.engineNote})\n`);
  process.exit(3);
}

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
const ms = (ns) => ns / 1e6;
setInterval(() => {
  const { heapUsed, external } = process.memoryUsage();
  process.send?.({ loopP99: ms(delay.percentile(99)), loopMax: ms(delay.max), heapUsed, external });
  delay.reset();
}, 1000).unref();

server.listen(0, '127.0.0.1', () => {
  const note = `engine=${server.sluice.engine} ${server.sluice.frontDoorNote}`;
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port} ${note}\n`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
