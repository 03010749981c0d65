// createServer's `metrics` option: known traffic, then a scrape of its
// listener read by a Prometheus text-format parser, checked against the
// traffic (the front door on, or off under SLUICE_TEST_FRONT_DOOR=0); one
// body sent through a wrapped res.write, which makes it a fallback to copy.
import { strict as assert } from 'node:assert';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { createServer, frontDoorAware, type SluiceServer } from '../../server/src/index';
import { scratchDir } from '../helpers/fixtures';
import { histogram, knownTraffic, makeMetricsSite, scrape, total } from '../helpers/metrics';

const N = 30;
const FRONT_DOOR = process.env.SLUICE_TEST_FRONT_DOOR === '0' ? false : undefined;

describe('createServer({ metrics })', function () {
  this.timeout(30_000);
  const site = makeMetricsSite(path.join(scratchDir(), 'site'));
  let server: SluiceServer;
  let base: string;
  let metricsUrl: string;

  before(async () => {
    server = createServer(site.root, { metrics: { port: 0 }, ...(FRONT_DOOR === false ? { frontDoor: false } : {}) });
    // A range of big.bin goes through a wrapped write (as compression
    // middleware wraps it): the engine must copy it.
    server.prependListener(
      'request',
      frontDoorAware((req, res) => {
        if (req.url !== '/big.bin') return;
        const write = res.write.bind(res) as (chunk: unknown) => boolean;
        res.write = ((chunk: unknown) => write(chunk)) as typeof res.write;
      }),
    );
    const listening = new Promise<AddressInfo>((resolve) => server.once('metricsListening', resolve));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    metricsUrl = `http://127.0.0.1:${(await listening).port}/metrics`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('should refuse a bad metrics option with its name', () => {
    for (const bad of [{ port: -1 }, { port: 'x' }, 'yes', { port: 1, host: '' }]) {
      assert.throws(
        () => createServer(site.root, { metrics: bad as never }),
        (err: NodeJS.ErrnoException) => err.code === 'ERR_INVALID_ARG_VALUE' && /"metrics/.test(err.message),
      );
    }
  });

  it('should count the known traffic, by engine, with the fallback by reason', async () => {
    // Fallbacks and precompressed hits are the process's counts
    // (counters.ts), and other suites in this process add to them: the
    // traffic's share is what they rose by.
    const before = (await scrape(metricsUrl)).families;
    const received = await knownTraffic(base, N, 3);
    const { families } = await scrape(metricsUrl);
    const rise = (name: string, labels: Record<string, string>): number => total(families, name, labels) - total(before, name, labels);
    assert.equal(total(families, 'sluice_requests_total', { method: 'GET', status: '200' }), N + 1);
    assert.equal(total(families, 'sluice_requests_total', { method: 'GET', status: '206' }), 1);
    assert.equal(total(families, 'sluice_body_bytes_total'), received);
    assert.equal(received, N * site.smallSize + site.brSize + site.rangeLength);
    const frontDoor = server.sluice.frontDoor?.active() ?? false;
    assert.equal(total(families, 'sluice_body_bytes_total', { engine: frontDoor ? 'front-door' : 'memory' }), N * site.smallSize + site.brSize);
    assert.equal(total(families, 'sluice_body_bytes_total', { engine: 'piped' }), site.rangeLength);
    assert.equal(rise('sluice_copy_fallbacks_total', { reason: 'wrapped-write' }), 1);
    assert.equal(rise('sluice_precompressed_hits_total', { coding: 'br' }), 1);
    const duration = histogram(families, 'sluice_request_duration_seconds');
    assert.equal(duration.count, N + 2);
    assert.equal(total(families, 'sluice_requests_in_flight'), 0);
    assert.equal(total(families, 'sluice_connections', { state: 'writing' }), 0);
    assert.equal(total(families, 'sluice_front_door_lookups_total') > 0, frontDoor);
  });

  it('should count connections reading, writing and idle as stub_status does', async () => {
    const net = await import('node:net');
    const port = (server.address() as AddressInfo).port;
    const sockets = await Promise.all(
      [0, 1, 2].map(
        () =>
          new Promise<import('node:net').Socket>((resolve) => {
            const s = net.connect(port, '127.0.0.1', () => resolve(s));
          }),
      ),
    );
    // One sends half a head (reading), one a whole request and is answered (idle after), one nothing.
    (sockets[0] as import('node:net').Socket).write('GET /small.txt HTTP/1.1\r\nHost: x\r\n');
    const answered = new Promise((resolve) => (sockets[1] as import('node:net').Socket).once('data', resolve));
    (sockets[1] as import('node:net').Socket).write('GET /small.txt HTTP/1.1\r\nHost: x\r\n\r\n');
    await answered;
    await new Promise((r) => setTimeout(r, 100));
    const { families } = await scrape(metricsUrl);
    const reading = total(families, 'sluice_connections', { state: 'reading' });
    const idle = total(families, 'sluice_connections', { state: 'idle' });
    assert.equal(total(families, 'sluice_connections', { state: 'writing' }), 0);
    assert.equal(reading + idle, 3);
    assert.ok(reading >= 1, `reading ${reading}`);
    for (const s of sockets) s.destroy();
  });
});
