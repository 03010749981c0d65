// A setHeaders option that throws is a bug in the app, not a reason for the
// process to die: the standalone handler answers 500, middleware hands the
// error to next(err), and the file's fd goes back to the table either way.
import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import { request } from 'undici';
import { createHandler, serveStatic } from '../../server/src/index';
import { fixtures } from '../helpers/fixtures';
import { forEachEngine } from '../helpers/server';

const boom = (): void => {
  throw new Error('setHeaders failed');
};

async function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

forEachEngine('a throwing setHeaders', (engine) => {
  const fx = fixtures();

  it('should answer 500 from the standalone handler and keep serving', async () => {
    const s = await listen(createHandler(fx.root, { engine, setHeaders: boom }));
    try {
      for (let i = 0; i < 3; i++) {
        const res = await request(`${s.url}/hello.txt`);
        assert.equal(res.statusCode, 500);
        assert.doesNotMatch(await res.body.text(), /setHeaders failed/);
      }
    } finally {
      await s.close();
    }
  });

  it("should hand the error to Express's error handler", async () => {
    const app = express();
    app.use(serveStatic(fx.root, { engine, setHeaders: boom }));
    const seen: string[] = [];
    const onError: ErrorRequestHandler = (err: Error, _req, res, _next) => {
      seen.push(err.message);
      res.status(500).send('app error');
    };
    app.use(onError);
    const s = await listen(app);
    try {
      const res = await request(`${s.url}/hello.txt`);
      assert.equal(res.statusCode, 500);
      assert.equal(await res.body.text(), 'app error');
      assert.deepEqual(seen, ['setHeaders failed']);
    } finally {
      await s.close();
    }
  });
});
