// The access log lines the addon makes for what the front door sends
// (test/cli/operator-flags covers the flags): for a corpus of request heads
// (odd user agents, repeated and empty fields, HEAD, 304, 404, queries,
// HTTP/1.0, the health path), each sent twice so the second is a kept
// reply, the lines are those of the same server with --no-front-door,
// where Node's path writes them, but for the time.
import { strict as assert } from 'node:assert';
import { connect, readResponses } from '../helpers/raw-http';
import { fixtures } from '../helpers/fixtures';
import { launchCli, stopCli, type StartedCli } from '../helpers/cli';
import { eventually } from '../helpers/eventually';
import { scrape, total } from '../helpers/metrics';
import { frontDoorUnavailableReason } from '../../server/src/index';

const FUTURE = new Date(Date.now() + 86_400_000).toUTCString();

/** Request heads (without the blank line). */
const HEADS = [
  'GET /hello.txt HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/8.0 "quoted" back\\slash\r\nReferer: http://ref.example/a?b=1',
  'HEAD /hello.txt HTTP/1.1\r\nHost: a\r\nUser-Agent: head-agent',
  'GET /hello.txt?x=%22y&z=1 HTTP/1.0\r\nHost: a',
  'GET /hello.txt HTTP/1.1\r\nHost: a\r\nUser-Agent: first\r\nUser-Agent: second\r\nReferer: one\r\nreferer: two',
  'GET /hello.txt HTTP/1.1\r\nHost: a\r\nReferer: \r\nuser-agent:    padded value   ',
  'GET /hello.txt HTTP/1.1\r\nHost: a\r\nUSER-AGENT: Mozilla/5.0 (X11; Linux x86_64) {"forged":1}\r\nREFERER: -',
  `GET /hello.txt HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: ${FUTURE}\r\nUser-Agent: conditional`,
  'GET /nope.txt HTTP/1.1\r\nHost: a\r\nUser-Agent: missing',
  'GET /healthz HTTP/1.1\r\nHost: a\r\nUser-Agent: probe',
  'GET /healthz?deep=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: probe',
  'GET /healthzz HTTP/1.1\r\nHost: a\r\nUser-Agent: not-a-probe',
  'GET /sub/ HTTP/1.1\r\nHost: a\r\nUser-Agent: tab\there',
];

/** Sends every head twice, each time on a connection of its own (some answers close theirs). */
async function sendEachTwice(port: number): Promise<void> {
  for (const head of HEADS) {
    for (let i = 0; i < 2; i++) {
      const socket = await connect(port);
      try {
        socket.write(`${head}\r\n\r\n`);
        await readResponses(socket, 1, [head.startsWith('HEAD')], 5000);
      } finally {
        socket.destroy();
      }
    }
  }
}

/** Sends every head twice, then waits for every line the server should write. */
async function logged(args: string[]): Promise<{ lines: string[]; started: StartedCli }> {
  const started = await launchCli([fixtures().root, '--port', '0', '--log', '--health', '/healthz', ...args]);
  try {
    await sendEachTwice(started.port);
  } catch (err) {
    await stopCli(started.child);
    throw err;
  }
  // Every answer but the health checks'.
  const expected = (HEADS.length - 2) * 2;
  const lines = (): string[] =>
    started
      .output()
      .split('\n')
      .slice(1)
      .filter((l) => l !== '' && !l.startsWith('sluice: '));
  await eventually(
    () => lines().length >= expected,
    5000,
    () => `${expected} lines (got ${JSON.stringify(lines())})`,
  );
  return { lines: lines(), started };
}

/** A line with its time taken out (the two servers answer at different times). */
function timeless(line: string, format: string): string {
  return format === 'json' ? line.replace(/"time":"[^"]*"/, '"time":""').replace(/"ms":\d+/, '"ms":0') : line.replace(/\[[^\]]*\]/, '[]');
}

describe('cli: the front door writes the access log lines Node would', function () {
  this.timeout(30_000);
  before(function () {
    if (frontDoorUnavailableReason() !== '') this.skip();
  });

  for (const format of ['combined', 'json']) {
    it(`should write the same ${format} lines, in order, as without the front door`, async () => {
      const door = await logged(['--log-format', format, '--front-door', '--metrics', '127.0.0.1:0']);
      const node = await logged(['--log-format', format, '--no-front-door']);
      try {
        assert.match(door.started.firstLine, /front-door=on /);
        assert.deepEqual(
          door.lines.map((l) => timeless(l, format)),
          node.lines.map((l) => timeless(l, format)),
        );
        // The second of each whole 200 kept alive was a kept reply (so its line was the addon's).
        const metrics = (await door.started.waitFor(/metrics on (http:\/\/\S+)/))[1] as string;
        const { families } = await scrape(metrics);
        const hits = total(families, 'sluice_front_door_lookups_total', { result: 'hit' });
        assert.ok(hits >= 5, `${hits} kept replies answered`);
        assert.ok(!door.lines.some((l) => /healthz[ ?]/.test(l.replace('healthzz', ''))), 'health checks are not logged');
      } finally {
        await stopCli(door.started.child);
        await stopCli(node.started.child);
      }
    });
  }

  it('should write the lines it holds when the server exits', async () => {
    const started = await launchCli([fixtures().root, '--port', '0', '--log', '--front-door']);
    const socket = await connect(started.port);
    for (let i = 0; i < 3; i++) {
      socket.write('GET /hello.txt HTTP/1.1\r\nHost: a\r\nUser-Agent: last-words\r\n\r\n');
      await readResponses(socket, 1, [], 5000);
    }
    socket.destroy();
    // Well within the 200 ms a held line may wait.
    assert.equal(await stopCli(started.child), 0);
    assert.equal(
      started
        .output()
        .split('\n')
        .filter((l) => l.endsWith('"last-words"')).length,
      3,
      started.output(),
    );
  });
});
