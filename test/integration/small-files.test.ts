// smallFileMax: which bodies an engine choice sends from memory with the
// head, and which it hands to the engine. pick() runs inside a real request,
// on a real socket, as the responder calls it.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Body } from '../../server/src/body';
import { AUTO_SMALL_FILE_MAX, chooseTransports, engines, type EngineName, type TransportOptions } from '../../server/src/engines';
import { createServer } from '../../server/src/index';
import { scratchDir } from '../helpers/fixtures';

const names = new Map(engines().map((r) => [r.name, r]));

/** The engine pick() chooses for a whole-file body of `size` bytes on a plain HTTP/1 socket. */
async function picked(choice: EngineName | 'auto', size: number, smallFileMax: number | null): Promise<EngineName> {
  const opts: TransportOptions = { maxChunk: 2 * 1024 * 1024, sendTimeout: 0, smallFileMax };
  const transports = chooseTransports(choice, opts);
  const body: Body = { segments: [{ fd: 0, offset: 0, length: size }], length: size, source: { fd: 0, size, bytes: null } };
  let name: EngineName | undefined;
  const server = http.createServer((req, res) => {
    const engine = transports.pick(transports.transportOf(req, res), body);
    // smallBodyEngine reports itself as copy: it writes through Node.
    name = engine.name === 'copy' && transports.name !== 'copy' ? 'copy' : engine.name;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    await fetch(`http://127.0.0.1:${port}/`).then((r) => r.arrayBuffer());
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return name as EngineName;
}

describe('smallFileMax', () => {
  const uring = names.get('io_uring');

  describe('under engine io_uring', function () {
    if (!uring?.available) {
      it.skip(`skipped: engine io_uring unavailable here (${uring?.reason})`, () => {});
      return;
    }

    it('should send a file of at most 16 KiB from memory with the head by default', async () => {
      assert.equal(await picked('io_uring', 1024, null), 'copy');
      assert.equal(await picked('io_uring', AUTO_SMALL_FILE_MAX, null), 'copy');
    });

    it('should hand a file over 16 KiB to the ring by default', async () => {
      assert.equal(await picked('io_uring', AUTO_SMALL_FILE_MAX + 1, null), 'io_uring');
    });

    it('should hand every body to the ring with smallFileMax 0', async () => {
      assert.equal(await picked('io_uring', 1, 0), 'io_uring');
    });

    it('should answer a small file byte for byte through the memory path, and after it changes', async () => {
      const root = scratchDir();
      const file = path.join(root, 'a.txt');
      fs.writeFileSync(file, 'x'.repeat(3000));
      const server = createServer(root, { engine: 'io_uring' });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/a.txt`;
        assert.equal(await (await fetch(url)).text(), 'x'.repeat(3000));
        // A new version (new size and mtime), past the open-file table's
        // one second of trust: never the bytes kept for the old one.
        fs.writeFileSync(file, 'y'.repeat(2000));
        fs.utimesSync(file, new Date(), new Date(Date.now() + 5000));
        await new Promise((r) => setTimeout(r, 1100));
        assert.equal(await (await fetch(url)).text(), 'y'.repeat(2000));
      } finally {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    });
  });

  for (const name of ['sendfile', 'splice'] as const) {
    describe(`under engine ${name}`, function () {
      const report = names.get(name);
      if (!report?.available) {
        it.skip(`skipped: engine ${name} unavailable here (${report?.reason})`, () => {});
        return;
      }
      it('should hand every body to the engine by default', async () => {
        assert.equal(await picked(name, 1, null), name);
      });
      it('should send files up to smallFileMax from memory when asked', async () => {
        assert.equal(await picked(name, 4096, 4096), 'copy');
        assert.equal(await picked(name, 4097, 4096), name);
      });
    });
  }

  it('should send files up to 16 KiB from memory under auto', async () => {
    const auto = chooseTransports('auto', { maxChunk: 2 * 1024 * 1024, sendTimeout: 0, smallFileMax: null });
    assert.equal(await picked('auto', AUTO_SMALL_FILE_MAX, null), 'copy');
    assert.equal(await picked('auto', AUTO_SMALL_FILE_MAX + 1, null), auto.name);
  });

  it('should refuse a smallFileMax that is negative, fractional or over 1 MiB', () => {
    for (const bad of [-1, 1.5, 1024 * 1024 + 1, '16k']) {
      assert.throws(() => createServer(scratchDir(), { smallFileMax: bad as number }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    }
  });
});
