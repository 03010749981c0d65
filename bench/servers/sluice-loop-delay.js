'use strict';
// sluice's createServer with the event loop's delay recorded, for the
// compression storm (bench/compress.js --storm). Over IPC, 'reset' starts a
// new window and 'report' answers with that window's delay percentiles (ms).
// usage: node sluice-loop-delay.js <root> <cache dir | -> (- = no compress cache)

const { monitorEventLoopDelay } = require('node:perf_hooks');
const sluice = require('../../dist');

const [root, cache] = process.argv.slice(2);
if (!root || !cache) {
  process.stderr.write('usage: sluice-loop-delay.js <root> <cache dir | ->\n');
  process.exit(2);
}

// 1 ms: the finest the histogram samples at; a delay shorter than that is no delay here.
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();

const server = sluice.createServer(root, { compress: cache === '-' ? false : { dir: cache } });
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`);
});

const ms = (ns) => ns / 1e6;
process.on('message', (msg) => {
  if (msg === 'reset') {
    delay.reset();
    process.send({ reset: true });
  } else if (msg === 'report') {
    process.send({ p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max), mean: ms(delay.mean) });
  }
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
