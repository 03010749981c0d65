// The access log over every engine: the client address and the body bytes
// actually sent, for whole responses and for transfers the client cut off
// (nginx's $remote_addr and $body_bytes_sent).
import { strict as assert } from 'node:assert';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { formatFrontDoorResponse, logResponse } from '../../server/src/access-log';
import { createServer, frontDoorAware, type FrontDoorResponse } from '../../server/src/index';
import { fixtures } from '../helpers/fixtures';
import { forEachEngine } from '../helpers/server';

const BIG = 64 * 1024 * 1024;
const LINE = /^(\S+) - - \[[^\]]+\] "(\w+) (\S+) HTTP\/1\.1" (\d{3}) (\d+|-) "-" "-"\n$/;

interface Logged {
  remote: string;
  method: string;
  path: string;
  status: number;
  bytes: number | null;
}

function parse(line: string): Logged {
  const m = LINE.exec(line);
  assert.ok(m, `not a combined log line: ${JSON.stringify(line)}`);
  return { remote: m[1], method: m[2], path: m[3], status: Number(m[4]), bytes: m[5] === '-' ? null : Number(m[5]) };
}

/** Sends a raw request and reads at most `limit` bytes of the answer, then resets the connection (or reads to the end). */
function fetchPart(port: number, request: string, limit: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    let got = 0;
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got >= limit) {
        socket.resetAndDestroy();
        resolve(got);
      }
    });
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
  });
}

// With the front door on, the lines of what it sends come from its
// 'frontDoorResponse' event, the others from 'request', as the CLI logs them.
for (const frontDoor of [false, true]) describeLog(frontDoor);

function describeLog(frontDoor: boolean): void {
  forEachEngine(`access log${frontDoor ? ' (front door on)' : ''}`, (engine) => {
    const fx = fixtures();
    let port = 0;
    let lines: string[] = [];
    let close: () => Promise<void> = async () => {};
    let hits = (): number => 0;

    before(async () => {
      const server = createServer(fx.root, { engine, frontDoor });
      hits = () => server.sluice.frontDoor?.stats().hits ?? 0;
      server.prependListener(
        'request',
        frontDoorAware((req: IncomingMessage, res: ServerResponse) => logResponse(req, res, (l) => lines.push(l))),
      );
      server.on('frontDoorResponse', (r: FrontDoorResponse) => lines.push(formatFrontDoorResponse(r, new Date())));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
      close = () => new Promise<void>((resolve) => server.close(() => resolve()));
    });
    after(() => close());
    beforeEach(() => (lines = []));

    const nextLine = async (): Promise<Logged> => {
      const until = Date.now() + 10_000;
      while (lines.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      assert.equal(lines.length, 1, 'one line per response');
      return parse(lines[0]);
    };

    it('should log the address and the whole body for a finished response, each time', async () => {
      // Twice: with the front door, the second is sent from its kept reply.
      for (let i = 0; i < 2; i++) {
        lines = [];
        await fetchPart(port, 'GET /size-1048579.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', Infinity);
        const logged = await nextLine();
        assert.deepEqual(logged, { remote: '127.0.0.1', method: 'GET', path: '/size-1048579.bin', status: 200, bytes: 1048579 });
      }
      if (frontDoor && engine !== 'copy') assert.ok(hits() > 0, 'the second was sent from a kept reply');
    });

    it('should log the address and the bytes sent for a transfer the client cut off', async () => {
      for (let i = 0; i < 2; i++) {
        lines = [];
        await fetchPart(port, `GET /size-${BIG}.bin HTTP/1.1\r\nHost: x\r\n\r\n`, 256 * 1024);
        const logged = await nextLine();
        assert.equal(logged.remote, '127.0.0.1');
        assert.equal(logged.status, 200);
        assert.ok(logged.bytes !== null && logged.bytes > 0 && logged.bytes < BIG, `bytes sent: ${logged.bytes}`);
      }
    });

    it('should log the bytes of a range and none for HEAD', async () => {
      await fetchPart(port, 'GET /size-65537.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=10-1009\r\nConnection: close\r\n\r\n', Infinity);
      assert.deepEqual(await nextLine(), { remote: '127.0.0.1', method: 'GET', path: '/size-65537.bin', status: 206, bytes: 1000 });
      lines = [];
      await fetchPart(port, 'HEAD /size-65537.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', Infinity);
      assert.deepEqual(await nextLine(), { remote: '127.0.0.1', method: 'HEAD', path: '/size-65537.bin', status: 200, bytes: null });
    });
  });
}
