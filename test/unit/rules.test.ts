import { strict as assert } from 'node:assert';
import { PathRule, SourcePattern, slash } from '../../server/src/globs';
import { candidatePaths, RuleSet } from '../../server/src/rules';

describe('SourcePattern', () => {
  // [source, path, segments, matches]
  const table: Array<[string, string, boolean, boolean]> = [
    ['**/*.md', '/docs/a.md', false, true],
    ['*.md', '/docs.md', false, true],
    ['*.md', '/docs/a.md', false, false],
    ['face/**', '/face/x/y', true, true],
    ['!face/**', '/test/mask', true, true],
    ['!face/**', '/face/mask', true, false],
    ['face/+(mask1|mask2)/ideal', '/face/mask1/ideal', true, true],
    ['face/+(mask1|mask2)/ideal', '/face/mask3/ideal', true, false],
    ['/directory**', '/directory', false, true],
    ['face/:id', '/face/object', true, true],
    ['face/:id', '/face/a/b', true, false],
    ['/secret', '/dir/../secret', true, true],
  ];
  for (const [source, p, segments, matches] of table) {
    it(`should ${matches ? '' : 'not '}match ${p} with ${source}${segments ? ' (segments)' : ''}`, () => {
      assert.equal(new SourcePattern(source, segments).matches(p), matches);
    });
  }

  it('should keep a leading ! when slashing', () => {
    assert.equal(slash('!a/../b'), '!/b');
    assert.equal(slash('a//b/'), '/a/b/');
  });
});

describe('PathRule', () => {
  it('should carry captures into the destination', () => {
    assert.equal(new PathRule('/old/:slug', '/new/:slug').target('/old/x'), '/new/x');
    assert.equal(new PathRule('face/:id', ':id.json').target('/face/object'), '/object.json');
    assert.equal(new PathRule('/gone', 'https://example.com/x').target('/gone'), 'https://example.com/x');
    assert.equal(new PathRule('/a', '/b').target('/c'), null);
  });
});

describe('RuleSet', () => {
  it('should redirect clean URLs, trailing slashes and rules in serve’s order', () => {
    const rules = new RuleSet({ cleanUrls: true, trailingSlash: true, redirects: [{ source: '/r', destination: '/s', type: 307 }] });
    assert.deepEqual(rules.route('/a.html').redirect, { status: 301, location: '/a' });
    assert.deepEqual(rules.route('/a/index').redirect, { status: 301, location: '/a' });
    assert.deepEqual(rules.route('/a').redirect, { status: 301, location: '/a/' });
    assert.equal(rules.route('/a.txt').redirect, null);
    assert.deepEqual(rules.route('/a//b/').redirect, { status: 301, location: '/a/b/' });
    assert.deepEqual(new RuleSet({ redirects: [{ source: '/r', destination: '/s', type: 307 }] }).route('/r').redirect, { status: 307, location: '/s' });
  });

  it('should apply each rewrite at most once, each on the last one’s result', () => {
    const rules = new RuleSet({
      rewrites: [
        { source: '/a', destination: '/b' },
        { source: '/b', destination: '/c' },
        { source: '/c', destination: '/a' },
      ],
    });
    assert.equal(rules.route('/a').rewritten, '/a');
    assert.equal(rules.route('/b').rewritten, '/b');
    assert.equal(rules.route('/x').rewritten, null);
  });

  it('should merge header rules in order, later values winning and null removing', () => {
    const rules = new RuleSet({
      headers: [
        {
          source: '**',
          headers: [
            { key: 'X-A', value: '1' },
            { key: 'Cache-Control', value: 'no-store' },
          ],
        },
        {
          source: '**/*.js',
          headers: [
            { key: 'x-a', value: '2' },
            { key: 'cache-control', value: null },
          ],
        },
      ],
    });
    assert.deepEqual(rules.headersFor('/app.js'), { fields: ['x-a', '2'], removed: ['cache-control'] });
    assert.deepEqual(rules.headersFor('/a.css'), { fields: ['X-A', '1', 'Cache-Control', 'no-store'], removed: [] });
    assert.equal(rules.headersFor('/a.css'), rules.headersFor('/a.css'), 'remembered');
  });

  it('should name serve’s candidates for a path', () => {
    const clean = { redirect: null, rewritten: null, cleanUrl: true };
    assert.deepEqual(candidatePaths('/a', '/a', clean), ['/a/index.html', '/a.html', '/a']);
    assert.deepEqual(candidatePaths('/', '/', clean), ['/index.html', '/']);
    assert.deepEqual(candidatePaths('/a.txt', '/a.txt', clean), ['/a.txt', '/a.txt/index.html', '/a.txt.html']);
    assert.deepEqual(candidatePaths('/x', '/x', { redirect: null, rewritten: '/y.html', cleanUrl: false }), ['/y.html', '/x']);
  });
});
