// Table tests of plan(): the status, fields and body sluice decides for one
// representation before anything is written, on both of its paths (the
// version's cached head lists, and send's order when headers were set
// before ours), as Go's fs_test.go tables checkPreconditions.
import { strict as assert } from 'node:assert';
import type { IncomingHttpHeaders } from 'node:http';
import type { FileVersion } from '../../server/src/file-table';
import { fakeVersion } from '../helpers/file-version';
import { HeadCache, representationOf, type HeadPolicy, type Preset } from '../../server/src/head';
import { plan, type Plan, type PlanOptions } from '../../server/src/plan';

const SIZE = 1000;
const MTIME = Date.UTC(2024, 0, 15, 12, 0, 0, 750);
const AT = 'Mon, 15 Jan 2024 12:00:00 GMT';
const BEFORE = 'Mon, 15 Jan 2024 11:59:59 GMT';

function version(size = SIZE): FileVersion {
  return fakeVersion('/srv/app.js', size, MTIME, 42);
}

const POLICY: HeadPolicy = {
  acceptRanges: true,
  cacheControl: 'public, max-age=0',
  contentType: true,
  lastModified: true,
  etag: true,
  strongEtag: false,
  extra: [],
};
const OPTS: PlanOptions = { policy: POLICY, maxRanges: 50 };

interface Input {
  method?: string;
  headers?: IncomingHttpHeaders;
  status?: number;
  /** Headers set before ours: send's path instead of the cached lists. */
  preset?: Preset;
  omit?: string[];
  coding?: 'gzip' | null;
  vary?: boolean;
  opts?: Partial<PlanOptions>;
}

function run(input: Input): Plan {
  const v = version();
  const policy = { ...POLICY, ...(input.opts?.policy ?? {}) };
  const rep = representationOf(v, v, input.coding ?? null, input.vary ?? false);
  const preset = input.preset ?? null;
  return plan(
    {
      method: input.method ?? 'GET',
      headers: input.headers ?? {},
      status: input.status ?? 200,
      rep,
      lists: preset === null ? new HeadCache(policy).lists(rep) : null,
      preset,
      omit: input.omit,
    },
    { ...OPTS, ...input.opts, policy },
  );
}

/** The fields of a plan as a lower-case map (values of repeated names joined). */
function fieldsOf(p: Plan): Map<string, string> {
  const list = p.kind === 'answer' ? p.head.fields : p.fields;
  const out = new Map<string, string>();
  for (let i = 0; i < list.length; i += 2) out.set(list[i].toLowerCase(), list[i + 1]);
  return out;
}

function statusOf(p: Plan): number {
  return p.kind === 'answer' ? p.head.status : p.status;
}

/** [offset, length] of a file body, 'multipart', or null for none. */
function bodyOf(p: Plan): [number, number] | 'multipart' | null {
  if (p.kind !== 'answer' || p.body === null) return null;
  const segments = p.body.segments;
  const only = segments[0];
  if (segments.length !== 1 || Buffer.isBuffer(only)) return 'multipart';
  return [only.offset, only.length];
}

const ETAG = `W/"${SIZE.toString(16)}-${Math.floor(MTIME).toString(16)}"`;

interface Case {
  name: string;
  input: Input;
  status: number;
  kind?: 'answer' | 'refuse';
  body?: [number, number] | 'multipart' | null;
  has?: Record<string, string>;
  lacks?: string[];
}

const TABLE: Case[] = [
  {
    name: 'a plain GET: 200, the whole file',
    input: {},
    status: 200,
    body: [0, SIZE],
    has: { 'content-length': '1000', 'accept-ranges': 'bytes', 'last-modified': AT },
  },
  { name: 'HEAD: the same head, no body', input: { method: 'HEAD' }, status: 200, body: null, has: { 'content-length': '1000' } },
  {
    name: 'If-None-Match that matches: 304 without content metadata',
    input: { headers: { 'if-none-match': ETAG } },
    status: 304,
    body: null,
    lacks: ['content-length', 'content-type'],
  },
  { name: 'If-None-Match * : 304', input: { headers: { 'if-none-match': '*' } }, status: 304, body: null },
  {
    name: 'If-None-Match that matches under an earlier 404: the 404 stands',
    input: { headers: { 'if-none-match': ETAG }, status: 404 },
    status: 404,
    body: [0, SIZE],
  },
  { name: 'If-Modified-Since at the mtime second: 304', input: { headers: { 'if-modified-since': AT } }, status: 304, body: null },
  { name: 'If-Modified-Since before the mtime: 200', input: { headers: { 'if-modified-since': BEFORE } }, status: 200, body: [0, SIZE] },
  { name: 'If-Match that fails: 412 refusal', input: { headers: { 'if-match': '"other"' } }, status: 412, kind: 'refuse' },
  { name: 'If-Unmodified-Since before the mtime: 412', input: { headers: { 'if-unmodified-since': BEFORE } }, status: 412, kind: 'refuse' },
  {
    name: 'one range: 206 with Content-Range and its own length',
    input: { headers: { range: 'bytes=10-19' } },
    status: 206,
    body: [10, 10],
    has: { 'content-range': 'bytes 10-19/1000', 'content-length': '10' },
  },
  { name: 'a suffix range', input: { headers: { range: 'bytes=-5' } }, status: 206, body: [995, 5], has: { 'content-range': 'bytes 995-999/1000' } },
  { name: 'a range past the end: 416 refusal', input: { headers: { range: 'bytes=5000-' } }, status: 416, kind: 'refuse' },
  {
    name: "a range past the end under serve's reading: 416 with the whole file",
    input: { headers: { range: 'bytes=5000-' }, opts: { unsatisfiableWithBody: true } },
    status: 416,
    body: [0, SIZE],
    has: { 'content-range': 'bytes */1000' },
  },
  { name: 'a range with a stale If-Range: the whole file', input: { headers: { range: 'bytes=0-9', 'if-range': '"stale"' } }, status: 200, body: [0, SIZE] },
  { name: 'a range with a matching If-Range date', input: { headers: { range: 'bytes=0-9', 'if-range': AT } }, status: 206, body: [0, 10] },
  {
    name: 'a range when ranges are off: the whole file',
    input: { headers: { range: 'bytes=0-9' }, opts: { policy: { ...POLICY, acceptRanges: false } } },
    status: 200,
    body: [0, SIZE],
    lacks: ['accept-ranges'],
  },
  { name: 'a malformed range: the whole file', input: { headers: { range: 'bytes=x-y' } }, status: 200, body: [0, SIZE] },
  {
    name: 'two ranges: 206 multipart/byteranges',
    input: { headers: { range: 'bytes=0-9,20-29' } },
    status: 206,
    body: 'multipart',
    has: {},
  },
  {
    name: 'two ranges of a coded variant: the whole variant',
    input: { headers: { range: 'bytes=0-9,20-29' }, coding: 'gzip', vary: true },
    status: 200,
    body: [0, SIZE],
    has: { 'content-encoding': 'gzip', vary: 'Accept-Encoding' },
  },
  {
    name: 'HEAD of a range: its head, no body',
    input: { method: 'HEAD', headers: { range: 'bytes=0-9' } },
    status: 206,
    body: null,
    has: { 'content-length': '10' },
  },
  // send's path: headers set before ours stand.
  { name: 'a preset Content-Type stands', input: { preset: { 'content-type': 'text/x-mine' } }, status: 200, body: [0, SIZE], lacks: ['content-type'] },
  { name: 'a preset ETag is the validator', input: { preset: { etag: '"mine"' }, headers: { 'if-none-match': '"mine"' } }, status: 304, body: null },
  {
    name: 'a removed ETag is neither sent nor judged by',
    input: { preset: {}, omit: ['etag'], headers: { 'if-none-match': ETAG } },
    status: 200,
    body: [0, SIZE],
    lacks: ['etag'],
  },
  {
    name: 'a preset Vary gains Accept-Encoding when variants exist',
    input: { preset: { vary: 'Origin' }, vary: true },
    status: 200,
    has: { vary: 'Origin, Accept-Encoding' },
  },
  {
    name: 'a 304 on the preset path strips content metadata set before',
    input: { preset: { 'content-type': 'text/x-mine' }, headers: { 'if-none-match': ETAG } },
    status: 304,
    body: null,
  },
];

describe('plan (table)', () => {
  for (const c of TABLE) {
    it(`should answer ${c.status} for ${c.name}`, () => {
      const p = run(c.input);
      assert.equal(statusOf(p), c.status);
      assert.equal(p.kind, c.kind ?? 'answer');
      if (c.body !== undefined) assert.deepEqual(bodyOf(p), c.body);
      const fields = fieldsOf(p);
      for (const [name, value] of Object.entries(c.has ?? {})) assert.equal(fields.get(name), value, name);
      for (const name of c.lacks ?? []) assert.equal(fields.has(name), false, `${name} should be absent`);
    });
  }

  it('should carry the ETag it judges by, in both paths', () => {
    for (const preset of [undefined, {}]) {
      const fields = fieldsOf(run({ preset }));
      assert.equal(fields.get('etag'), ETAG);
    }
  });

  it('should give a 416 refusal Content-Range bytes */size', () => {
    const p = run({ headers: { range: 'bytes=5000-' } });
    assert.equal(p.kind, 'refuse');
    if (p.kind === 'refuse') assert.deepEqual(p.headers, { 'Content-Range': 'bytes */1000' });
  });

  it('should strip content metadata set before a 304 on the preset path', () => {
    const p = run({ preset: { 'content-type': 'text/x-mine' }, headers: { 'if-none-match': ETAG } });
    assert.equal(p.kind, 'answer');
    if (p.kind === 'answer') assert.ok(p.head.strip?.includes('content-type'));
  });

  it('should give multipart a boundary Content-Type and the length of all parts', () => {
    const p = run({ headers: { range: 'bytes=0-9,20-29' } });
    const fields = fieldsOf(p);
    assert.match(fields.get('content-type') ?? '', /^multipart\/byteranges; boundary=/);
    assert.ok(p.kind === 'answer' && p.body !== null && Number(fields.get('content-length')) === p.body.length);
  });
});
