// The front door's request-head classifier against Node's own parser, in
// process (`_http_common`'s HTTPParser, the llhttp this Node runs): every
// head the front door calls plain, Node must parse as one GET or HEAD with
// the same target, version and fields, no body, ending at the same byte.
// 100,000 heads, generated and mutated from smuggling shapes, with a fixed
// seed so a failure repeats; the suite runs on every Node line CI runs.
import { strict as assert } from 'node:assert';
import { native, type NativeBinding } from '../../server/src/native';

interface NodeParse {
  error: boolean;
  method?: string;
  url?: string;
  versionMinor?: number;
  headers?: string[];
  body: boolean;
  complete: number;
  consumed: number;
}

interface ParserModule {
  HTTPParser: {
    new (): {
      initialize(type: number, resource: object): void;
      execute(data: Buffer): number | Error;
      finish(): number | Error | undefined;
      [key: number]: unknown;
    };
    REQUEST: number;
    kOnHeaders: number;
    kOnHeadersComplete: number;
    kOnBody: number;
    kOnMessageComplete: number;
  };
  methods: string[];
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- Node's internal parser module has no types
const { HTTPParser, methods } = require('_http_common') as ParserModule;

/** What Node's parser makes of exactly `bytes`. */
function nodeParse(bytes: Buffer): NodeParse {
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.REQUEST, {});
  const out: NodeParse = { error: false, body: false, complete: 0, consumed: 0 };
  const extra: string[] = [];
  parser[HTTPParser.kOnHeaders] = (headers: string[]) => extra.push(...headers);
  parser[HTTPParser.kOnHeadersComplete] = (_major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined) => {
    out.method = methods[method];
    out.url = url;
    out.versionMinor = minor;
    out.headers = headers ?? extra;
    return 0;
  };
  parser[HTTPParser.kOnBody] = () => (out.body = true);
  parser[HTTPParser.kOnMessageComplete] = () => void out.complete++;
  const r = parser.execute(bytes);
  if (r instanceof Error) out.error = true;
  else out.consumed = r;
  return out;
}

/** The fields of a head the way a plain head must split: name, value without surrounding whitespace. */
function fieldsOf(head: string): string[] {
  const out: string[] = [];
  for (const line of head.split('\r\n').slice(1)) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    out.push(line.slice(0, colon), line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, ''));
  }
  return out;
}

const SHAPES = [
  'Content-Length: 0',
  'Content-Length: 5',
  'Content-Length: 1, 2',
  'Content-Length: 0\r\nContent-Length: 0',
  'Content-Length : 0',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding : chunked',
  'Transfer-Encoding:\tchunked',
  'Transfer-Encoding: x\r\n chunked',
  'X-Fold: a\r\n b',
  'X-Fold: a\r\n\tb',
  'Host: a\rb',
  'Host: a\nb',
  'Host: a\u0000b',
  'Host:a',
  'Host:   spaced   ',
  'Upgrade: websocket\r\nConnection: Upgrade',
  'Connection: close',
  'Connection: keep-alive, Upgrade',
  'Expect: 100-continue',
  'If-None-Match: "x"',
  'If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT',
  'Range: bytes=0-0',
  'Accept-Encoding: gzip, br;q=0.5',
  `X-Long: ${'v'.repeat(4000)}`,
  'X-Empty:',
  'X-Tab: a\tb',
  'X-High: caf\u00e9',
  'X-Del: a\u007f',
  ' Leading: space',
  'Bad Name: x',
  '"Quoted": x',
  ':empty-name',
];

const TARGETS = [
  '/',
  '/a.txt',
  '/dir/',
  '/%2e%2e/etc/passwd',
  '/..%2f..%2fetc',
  '/a%00b',
  '/a?b=c&d',
  '/a#frag',
  'http://example.com/a',
  '//double',
  '*',
  '/sp ace',
  '/caf\u00e9',
  `/${'x'.repeat(3000)}`,
];

const LINES = ['GET {} HTTP/1.1', 'HEAD {} HTTP/1.1', 'GET {} HTTP/1.0', 'POST {} HTTP/1.1', 'get {} HTTP/1.1', 'GET {} HTTP/1.2', 'GET {} HTTP/2.0', 'GET  {} HTTP/1.1', 'GET {}  HTTP/1.1', 'GET {} http/1.1'];

/** A small deterministic generator (a failure repeats). */
function generator(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % n;
  };
}

function generatedHead(next: (n: number) => number): string {
  const line = LINES[next(3) === 0 ? next(LINES.length) : next(3)].replace('{}', TARGETS[next(TARGETS.length)]);
  const fields = ['Host: localhost'];
  for (let n = next(4); n > 0; n--) fields.push(SHAPES[next(SHAPES.length)]);
  if (next(2) === 0) fields.reverse();
  const end = ['\r\n\r\n', '\r\n\r\n', '\r\n\r\n', '\n\n', '\r\n\n', '\r\n'][next(6)];
  return `${line}\r\n${fields.join('\r\n')}${end}`;
}

const ALPHABET = '\r\n\t :;,/"\\#%*-.?=GETHADPOSTtc01\u0000\u007f\u0080\u00ff';

function mutated(head: string, next: (n: number) => number): string {
  let s = head;
  for (let edits = 1 + next(3); edits > 0 && s.length > 0; edits--) {
    const at = next(s.length);
    const ch = ALPHABET[next(ALPHABET.length)];
    const op = next(3);
    s = op === 0 ? s.slice(0, at) + ch + s.slice(at + 1) : op === 1 ? s.slice(0, at) + ch + s.slice(at) : s.slice(0, at) + s.slice(at + 1 + next(3));
  }
  return s;
}

type Verdict = ReturnType<NonNullable<NativeBinding['classifyRequestHead']>>;
const classifier = native.binding?.classifyRequestHead;

function classify(bytes: Buffer): Verdict {
  if (classifier === undefined) throw new Error('no classifier in this addon');
  return classifier(bytes);
}

describe('front door classifier against Node’s parser', function () {
  if (classifier === undefined) {
    it.skip(`skipped: ${native.binding ? 'this addon has no front door' : native.reason}`, () => {});
    return;
  }
  this.timeout(120_000);

  it('should call plain only heads Node parses the same way, over 100,000 generated and mutated heads', () => {
    const next = generator(0x5eed1e55);
    const verdicts = { plain: 0, incomplete: 0, handover: 0 };
    for (let i = 0; i < 100_000; i++) {
      const base = generatedHead(next);
      const text = next(2) === 0 ? base : mutated(base, next);
      const bytes = Buffer.from(text, 'latin1');
      const verdict = classify(bytes);
      verdicts[verdict.status]++;
      if (verdict.status !== 'plain') continue;
      const head = bytes.subarray(0, verdict.headLength);
      const node = nodeParse(head);
      const what = JSON.stringify(head.toString('latin1').slice(0, 200));
      assert.ok(!node.error, `Node refuses a head called plain: ${what}`);
      assert.equal(node.consumed, head.length, `Node reads ${node.consumed} of ${head.length} bytes: ${what}`);
      assert.equal(node.complete, 1, `Node sees ${node.complete} whole messages: ${what}`);
      assert.ok(!node.body, `Node sees a body: ${what}`);
      assert.equal(node.method, verdict.isHead ? 'HEAD' : 'GET', what);
      assert.equal(node.versionMinor, verdict.minorVersion, what);
      const line = head.toString('latin1').split('\r\n')[0];
      assert.equal(node.url, line.slice(line.indexOf(' ') + 1, line.lastIndexOf(' ')), what);
      assert.deepEqual(node.headers, fieldsOf(head.toString('latin1')), what);
    }
    // The generator must reach every verdict, or it tests nothing.
    for (const [status, count] of Object.entries(verdicts)) assert.ok(count > 1000, `${status}: ${count} heads`);
  });

  it('should hand over what Node parses differently from a plain head', () => {
    const handover = [
      'GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n',
      'GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n',
      'GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n',
      'GET / HTTP/1.1\nHost: x\n\n',
      'GET http://x/ HTTP/1.1\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\u0000b\r\n\r\n',
    ];
    for (const text of handover) assert.equal(classify(Buffer.from(text, 'latin1')).status, 'handover', JSON.stringify(text));
    assert.equal(classify(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n', 'latin1')).status, 'incomplete');
  });
});
