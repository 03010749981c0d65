// --metrics end to end through the CLI: known traffic, then a scrape read
// by a Prometheus text-format parser, its values checked against the
// traffic; one body forced to fall back to copy; --workers 2 summed by the
// primary; bad values refused with the flag's name.
import { strict as assert } from 'node:assert';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { request } from 'undici';
import { CLI, runCli, startCli, stopCli } from '../helpers/cli';
import { scratchDir } from '../helpers/fixtures';
import { histogram, knownTraffic, makeMetricsSite, scrape, total, type Family } from '../helpers/metrics';

const N = 20;

/** Starts the CLI and waits for the line that names the metrics listener. */
async function startWithMetrics(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; base: string; metricsUrl: string; firstLine: string }> {
  const started = await startCli(args, process.execPath, [CLI], env);
  const metricsUrl = await new Promise<string>((resolve, reject) => {
    const deadline = Date.now() + 20_000;
    const look = (): void => {
      const m = /sluice: metrics on (http:\/\/\S+\/metrics)/.exec(started.output());
      if (m) return resolve(m[1] as string);
      if (Date.now() < deadline) return void setTimeout(look, 20);
      started.child.kill('SIGKILL');
      reject(new Error(`no metrics line in ${started.output()}`));
    };
    look();
  });
  return { child: started.child, base: `http://127.0.0.1:${started.port}`, metricsUrl, firstLine: started.firstLine };
}

/** What every scrape of the known traffic must say, whatever sent the bodies. */
function checkTraffic(families: Map<string, Family>, site: ReturnType<typeof makeMetricsSite>, received: number): void {
  assert.equal(total(families, 'sluice_requests_total', { method: 'GET', status: '200' }), N + 1);
  assert.equal(total(families, 'sluice_requests_total', { method: 'GET', status: '206' }), 1);
  assert.equal(total(families, 'sluice_requests_total'), N + 2);
  const expected = N * site.smallSize + site.brSize + site.rangeLength;
  assert.equal(received, expected);
  assert.equal(total(families, 'sluice_body_bytes_total'), expected);
  const duration = histogram(families, 'sluice_request_duration_seconds');
  assert.equal(duration.count, N + 2);
  assert.equal(duration.buckets['+Inf'], N + 2);
  assert.ok(duration.sum > 0 && duration.sum < 60, `sum ${duration.sum}`);
  assert.equal(total(families, 'sluice_precompressed_hits_total', { coding: 'br' }), 1);
  assert.equal(total(families, 'sluice_requests_in_flight'), 0);
  assert.equal(total(families, 'sluice_connections', { state: 'writing' }), 0);
  assert.ok(total(families, 'sluice_file_table_opens_total') >= 1);
  // prom-client's process metrics and the event loop's delay.
  assert.ok(total(families, 'process_cpu_seconds_total') > 0);
  assert.ok(families.has('nodejs_eventloop_lag_seconds'));
  assert.ok(families.has('nodejs_eventloop_lag_p99_seconds'));
}

describe('cli: --metrics', function () {
  this.timeout(60_000);
  const site = makeMetricsSite(path.join(scratchDir(), 'site'));

  describe('with known traffic', () => {
    let child: ChildProcess;
    let base: string;
    let metricsUrl: string;
    let frontDoor: boolean;
    before(async () => {
      ({ child, base, metricsUrl } = await startWithMetrics([site.root, '--port', '0', '--metrics', '127.0.0.1:0']).then((s) => {
        frontDoor = s.firstLine.includes('front-door=on');
        return s;
      }));
    });
    after(() => stopCli(child));

    it('should count every request, byte and duration, by engine', async () => {
      const received = await knownTraffic(base, N);
      const { families, contentType } = await scrape(metricsUrl);
      assert.match(contentType, /^text\/plain; version=0\.0\.4/);
      checkTraffic(families, site, received);
      // The front door sends the plain GETs itself; Node the range (sendfile) and, without it, the rest from memory.
      const small = N * site.smallSize + site.brSize;
      assert.equal(total(families, 'sluice_body_bytes_total', { engine: frontDoor ? 'front-door' : 'memory' }), small);
      assert.equal(total(families, 'sluice_body_bytes_total', { engine: 'sendfile' }), site.rangeLength);
      assert.equal(total(families, 'sluice_copy_fallbacks_total'), 0);
    });

    it('should answer HEAD /metrics, and 404 elsewhere', async () => {
      const head = await request(metricsUrl, { method: 'HEAD' });
      await head.body.arrayBuffer();
      assert.equal(head.statusCode, 200);
      const other = await request(metricsUrl.replace(/\/metrics$/, '/'));
      await other.body.arrayBuffer();
      assert.equal(other.statusCode, 404);
    });
  });

  describe('with a body forced to fall back to copy', () => {
    // No socket duplicate (as when descriptors run out): the range, the one
    // body a zero-copy engine would send, goes through copy instead.
    const env = { SLUICE_FORCE_ERRNO: 'dup:EMFILE' };
    let child: ChildProcess;
    let base: string;
    let metricsUrl: string;
    before(async () => {
      ({ child, base, metricsUrl } = await startWithMetrics([site.root, '--port', '0', '--metrics', '0'], env));
    });
    after(() => stopCli(child));

    it('should count the fallback by reason, and its bytes as copy', async () => {
      const received = await knownTraffic(base, N);
      const { families } = await scrape(metricsUrl);
      checkTraffic(families, site, received);
      assert.equal(total(families, 'sluice_copy_fallbacks_total', { reason: 'descriptors' }), 1);
      assert.equal(total(families, 'sluice_copy_fallbacks_total'), 1);
      assert.equal(total(families, 'sluice_body_bytes_total', { engine: 'copy' }), site.rangeLength);
    });
  });

  describe('with --workers 2', () => {
    const env = { SLUICE_FORCE_ERRNO: 'dup:EMFILE' };
    let child: ChildProcess;
    let base: string;
    let metricsUrl: string;
    before(async () => {
      ({ child, base, metricsUrl } = await startWithMetrics([site.root, '--port', '0', '--workers', '2', '--metrics', '0'], env));
    });
    after(() => stopCli(child));

    it('should sum every worker into the primary', async () => {
      // Four connections at once: node:cluster's primary (or, with
      // SO_REUSEPORT, the kernel) spreads them over both workers.
      const received = await knownTraffic(base, N, 4);
      const { families, text } = await scrape(metricsUrl);
      checkTraffic(families, site, received);
      assert.equal(total(families, 'sluice_copy_fallbacks_total', { reason: 'descriptors' }), 1);
      // Each worker's own process metrics, summed.
      assert.ok(total(families, 'process_cpu_seconds_total') > 0, text);
    });
  });

  describe('with two listeners (-l twice)', () => {
    it("should count both listeners' traffic, the front door's included", async () => {
      const started = await startWithMetrics([site.root, '-l', '127.0.0.1:0', '-l', '127.0.0.1:0', '--metrics', '127.0.0.1:0']);
      try {
        const ports = [...started.firstLine.matchAll(/http:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
        assert.equal(ports.length, 2, started.firstLine);
        // Half the known traffic on each: the sums must be the whole.
        let received = await knownTraffic(`http://127.0.0.1:${ports[0]}`, N);
        for (let i = 0; i < N; i++) {
          const res = await request(`http://127.0.0.1:${ports[1]}/small.txt`);
          received += Buffer.from(await res.body.arrayBuffer()).length;
        }
        const { families } = await scrape(started.metricsUrl);
        assert.equal(total(families, 'sluice_requests_total'), 2 * N + 2);
        assert.equal(total(families, 'sluice_body_bytes_total'), received);
        assert.equal(histogram(families, 'sluice_request_duration_seconds').count, 2 * N + 2);
      } finally {
        await stopCli(started.child);
      }
    });
  });

  describe('with a bad value', () => {
    for (const bad of ['abc', '70000', 'host:', ':9100', '1.2.3.4:x']) {
      it(`should refuse --metrics ${bad} with the flag's name and exit 2`, () => {
        const r = runCli([site.root, '--port', '0', '--metrics', bad]);
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, /--metrics/);
      });
    }

    it('should refuse the serving port', () => {
      const r = runCli([site.root, '--port', '8099', '--metrics', '8099']);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /--metrics '8099': 8099 is the serving port/);
    });

    it('should list --metrics in --help', () => {
      const r = runCli(['--help']);
      assert.match(r.stdout, /--metrics \[HOST:\]PORT/);
    });
  });
});
