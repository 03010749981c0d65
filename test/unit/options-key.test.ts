// optionsKey: what the per-call responder caches (sendFile, reply.sendFile)
// are keyed by. Every option counts, key order does not, functions and
// other objects count by identity.
import { strict as assert } from 'node:assert';
import { optionsKey, ResponderCache } from '../../server/src/setup';
import { fixtures } from '../helpers/fixtures';

describe('optionsKey', () => {
  it('should not depend on key order, at any depth', () => {
    assert.equal(
      optionsKey({ maxAge: 1, etag: true, headers: [{ source: '**', headers: [] }] }),
      optionsKey({ etag: true, maxAge: 1, headers: [{ headers: [], source: '**' }] }),
    );
  });

  it('should tell apart every option, including ones no list names', () => {
    const base = { maxAge: 1000 };
    const variants = [
      { maxAge: 2000 },
      { ...base, contentType: false },
      { ...base, sendTimeout: 5 },
      { ...base, mimeTypes: { x: 'text/x' } },
      { ...base, mimeTypes: { x: 'text/y' } },
    ];
    const keys = new Set([optionsKey(base), ...variants.map((v) => optionsKey(v))]);
    assert.equal(keys.size, variants.length + 1);
  });

  it('should key functions by identity', () => {
    const a = (): void => undefined;
    const b = (): void => undefined;
    assert.equal(optionsKey({ setHeaders: a }), optionsKey({ setHeaders: a }));
    assert.notEqual(optionsKey({ setHeaders: a }), optionsKey({ setHeaders: b }));
  });

  it('should key a RegExp by its source and flags', () => {
    const withRe = (re: RegExp) => optionsKey({ unlisted: [re] } as never);
    assert.equal(withRe(/a/), withRe(/a/));
    assert.notEqual(withRe(/a/), withRe(/b/));
    assert.notEqual(withRe(/a/), withRe(/a/i));
  });

  it('should give one responder to equal options objects and another to different ones', () => {
    const cache = new ResponderCache();
    const root = fixtures().root;
    assert.equal(cache.get(root, { maxAge: 5, etag: false }), cache.get(root, { etag: false, maxAge: 5 }));
    assert.notEqual(cache.get(root, { maxAge: 5 }), cache.get(root, { maxAge: 6 }));
  });
});
