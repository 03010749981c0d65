import { strict as assert } from 'node:assert';
import { fromErrno, HttpError } from '../../server/src/http-error';

describe('HttpError', () => {
  const table: Array<[number, string, string, boolean]> = [
    [400, 'BadRequestError', 'Bad Request', true],
    [403, 'ForbiddenError', 'Forbidden', true],
    [404, 'NotFoundError', 'Not Found', true],
    [412, 'PreconditionFailedError', 'Precondition Failed', true],
    [416, 'RangeNotSatisfiableError', 'Range Not Satisfiable', true],
    [500, 'InternalServerError', 'Internal Server Error', false],
    [503, 'ServiceUnavailableError', 'Service Unavailable', false],
  ];
  for (const [status, name, message, expose] of table) {
    it(`should shape ${status} as http-errors does (${name})`, () => {
      const err = new HttpError(status);
      assert.ok(err instanceof Error);
      assert.equal(err.name, name);
      assert.equal(err.message, message);
      assert.equal(err.status, status);
      assert.equal(err.statusCode, status);
      assert.equal(err.expose, expose);
      assert.ok(String(err.stack).startsWith(`${name}: ${message}`));
    });
  }

  it('should carry headers', () => {
    assert.deepEqual(new HttpError(416, undefined, { 'Content-Range': 'bytes */9' }).headers, { 'Content-Range': 'bytes */9' });
  });
});

describe('fromErrno', () => {
  const table: Array<[string, NodeJS.ErrnoException & { dest?: string }, string]> = [
    [
      'a path',
      Object.assign(new Error("ENOENT: no such file or directory, open '/srv/www/secret/a.txt'"), {
        code: 'ENOENT',
        errno: -2,
        syscall: 'open',
        path: '/srv/www/secret/a.txt',
      }),
      'ENOENT: no such file or directory, open',
    ],
    [
      'a path and a destination',
      Object.assign(new Error("EXDEV: cross-device link not permitted, rename '/a/b' -> '/c/d'"), {
        code: 'EXDEV',
        errno: -18,
        syscall: 'rename',
        path: '/a/b',
        dest: '/c/d',
      }),
      'EXDEV: cross-device link not permitted, rename',
    ],
    [
      'no path',
      Object.assign(new Error('EMFILE: too many open files, open'), { code: 'EMFILE', errno: -24, syscall: 'open' }),
      'EMFILE: too many open files, open',
    ],
  ];
  for (const [what, source, message] of table) {
    it(`should keep code, errno and syscall and drop ${what}`, () => {
      const err = fromErrno(source, 404) as HttpError & { errno?: number; syscall?: string };
      assert.equal(err.message, message);
      assert.equal(err.code, source.code);
      assert.equal(err.errno, source.errno);
      assert.equal(err.syscall, source.syscall);
      assert.equal(err.status, 404);
      assert.equal(err.expose, false);
      if (source.path) assert.ok(!String(err.stack).includes(source.path));
    });
  }
});
