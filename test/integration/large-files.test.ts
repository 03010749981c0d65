// Files past 4 GiB (sparse, with real bytes near the end): 64-bit offsets
// through every engine, whole and ranged.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { request } from 'undici';
import { scratchDir } from '../helpers/fixtures';
import { forEachEngine, startServer, type TestServer } from '../helpers/server';

const SIZE = 4 * 1024 ** 3 + 12_345_678; // past 2^32
const MARKS: Array<[number, Buffer]> = [
  [0, Buffer.from('start of the sparse file')],
  [2 ** 31 - 5, Buffer.from('across 2 GiB')],
  [2 ** 32 - 7, Buffer.from('across 4 GiB')],
  [SIZE - 64, Buffer.alloc(64, 'end.')],
];

let made: { dir: string; file: string; hash: string } | null = null;

/** The sparse file and the SHA-256 of its whole content, computed once. */
function sparseFile(): { dir: string; file: string; hash: string } {
  if (made) return made;
  const dir = scratchDir();
  const file = path.join(dir, 'huge.bin');
  const fd = fs.openSync(file, 'w');
  fs.ftruncateSync(fd, SIZE);
  for (const [offset, bytes] of MARKS) fs.writeSync(fd, bytes, 0, bytes.length, offset);
  fs.closeSync(fd);
  // Hash the expected content without reading 4 GiB: zeros between marks.
  const hash = createHash('sha256');
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  let at = 0;
  for (const [offset, bytes] of MARKS) {
    for (let gap = offset - at; gap > 0; gap -= zeros.length) hash.update(gap >= zeros.length ? zeros : zeros.subarray(0, gap));
    hash.update(bytes);
    at = offset + bytes.length;
  }
  for (let gap = SIZE - at; gap > 0; gap -= zeros.length) hash.update(gap >= zeros.length ? zeros : zeros.subarray(0, gap));
  made = { dir, file, hash: hash.digest('hex') };
  return made;
}

/** The expected bytes of [start, end] (inclusive). */
function expected(start: number, end: number): Buffer {
  const out = Buffer.alloc(end - start + 1);
  for (const [offset, bytes] of MARKS) {
    const from = Math.max(start, offset);
    const to = Math.min(end + 1, offset + bytes.length);
    if (from < to) bytes.copy(out, from - start, from - offset, to - offset);
  }
  return out;
}

forEachEngine('files larger than 4 GiB', (engine) => {
  let server: TestServer;
  before(async function () {
    this.timeout(120_000);
    server = await startServer(sparseFile().dir, { engine });
  });
  after(() => server.close());

  const ranges: Array<[number, number]> = [
    [2 ** 32 - 10, 2 ** 32 + 10],
    [2 ** 31 - 8, 2 ** 31 + 8],
    [SIZE - 100, SIZE - 1],
    [SIZE - 1, SIZE - 1],
  ];
  for (const [start, end] of ranges) {
    it(`should send bytes ${start}-${end} exactly`, async () => {
      const res = await request(`${server.url}/huge.bin`, { headers: { range: `bytes=${start}-${end}` } });
      assert.equal(res.statusCode, 206);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${SIZE}`);
      assert.ok(Buffer.from(await res.body.arrayBuffer()).equals(expected(start, end)));
    });
  }

  it('should send a suffix range from past 4 GiB', async () => {
    const res = await request(`${server.url}/huge.bin`, { headers: { range: 'bytes=-70' } });
    assert.equal(res.statusCode, 206);
    assert.ok(Buffer.from(await res.body.arrayBuffer()).equals(expected(SIZE - 70, SIZE - 1)));
  });

  it('should send the whole file exactly', async function () {
    this.timeout(180_000);
    const res = await request(`${server.url}/huge.bin`);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-length'], String(SIZE));
    const hash = createHash('sha256');
    let total = 0;
    for await (const chunk of res.body) {
      hash.update(chunk as Buffer);
      total += (chunk as Buffer).length;
    }
    assert.equal(total, SIZE);
    assert.equal(hash.digest('hex'), sparseFile().hash);
  });
});
