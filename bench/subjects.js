'use strict';
// The subjects: how to start each server as a child process (pinned to the
// server CPU) and learn its URL. Every server binds 127.0.0.1 only.

const net = require('node:net');
const path = require('node:path');
const procs = require('./procs');
const nginx = require('./nginx');

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli.js');
const SERVERS = path.join(__dirname, 'servers');
const URL_RE = /http:\/\/127\.0\.0\.1:(\d+)/;
const NODE_ENV = { NODE_ENV: 'production' };

const SLUICE_ENGINES = ['auto', 'sendfile', 'splice', 'io_uring', 'copy'];

function nodeScript(script, args) {
  return { cmd: process.execPath, args: [path.join(SERVERS, script), ...args], env: NODE_ENV };
}

/**
 * Every subject. group: 'sluice' (the thing measured), 'peer' (what users
 * would otherwise pick), 'ceiling' (bare Node from memory), 'ref' (C: a
 * sendfile loop for large files, an epoll server from memory for small ones).
 * `ratio` names the column a subject gets in the ratio part of the table.
 */
const SUBJECTS = [
  // Each engine on its own: the front door (on by default) would answer
  // plain GETs itself, whatever the engine.
  ...SLUICE_ENGINES.map((engine) => ({
    name: `sluice-${engine}`,
    label: `sluice --engine ${engine} --no-front-door`,
    group: 'sluice',
    engine,
    ratio: engine === 'copy' ? 'copy' : null,
    command: (ctx) => ({
      cmd: process.execPath,
      args: [CLI, ctx.root, '--host', '127.0.0.1', '--port', '0', '--engine', engine, '--no-front-door'],
      env: NODE_ENV,
    }),
  })),
  {
    // The CLI as users run it: the native front door (README, Front door)
    // answers plain GET/HEAD before Node's HTTP layer, with the bytes Node
    // wrote the first time.
    name: 'sluice-front-door',
    label: 'sluice (front door, engine auto)',
    group: 'sluice',
    engine: 'auto',
    command: (ctx) => ({
      cmd: process.execPath,
      args: [CLI, ctx.root, '--host', '127.0.0.1', '--port', '0', '--front-door'],
      env: NODE_ENV,
    }),
  },
  {
    // The same, with what operators turn on in production: Prometheus
    // metrics on a listener of their own and an access log, read from its
    // pipe by a cat into /dev/null (the start line goes through first; the
    // cat is one of the server's processes, so its CPU counts). Against
    // sluice-front-door: their cost per request.
    name: 'sluice-metrics',
    label: 'sluice (front door, --metrics and --log)',
    group: 'sluice',
    engine: 'auto',
    command: (ctx) => ({
      cmd: 'sh',
      args: [
        '-c',
        '"$0" "$@" | { IFS= read -r line; printf "%s\\n" "$line"; exec cat > /dev/null; }',
        process.execPath,
        CLI,
        ctx.root,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--front-door',
        '--metrics',
        '127.0.0.1:0',
        '--log',
      ],
      env: NODE_ENV,
    }),
  },
  {
    // Metrics without the access log: their share of sluice-metrics' cost.
    name: 'sluice-metrics-only',
    label: 'sluice (front door, --metrics)',
    group: 'sluice',
    engine: 'auto',
    command: (ctx) => ({
      cmd: 'sh',
      args: [
        '-c',
        '"$0" "$@" | { IFS= read -r line; printf "%s\\n" "$line"; exec cat > /dev/null; }',
        process.execPath,
        CLI,
        ctx.root,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--front-door',
        '--metrics',
        '127.0.0.1:0',
      ],
      env: NODE_ENV,
    }),
  },
  {
    // The access log without the metrics: its share of sluice-metrics' cost.
    name: 'sluice-log',
    label: 'sluice (front door, --log)',
    group: 'sluice',
    engine: 'auto',
    command: (ctx) => ({
      cmd: 'sh',
      args: [
        '-c',
        '"$0" "$@" | { IFS= read -r line; printf "%s\\n" "$line"; exec cat > /dev/null; }',
        process.execPath,
        CLI,
        ctx.root,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--front-door',
        '--log',
      ],
      env: NODE_ENV,
    }),
  },
  // The io_uring engine's levers, one subject each (README, Engines): how
  // the ring runs its task work, and small files through the ring.
  ...['interrupt', 'cooperative', 'deferred'].map((mode) => ({
    name: `uring-taskrun-${mode}`,
    label: `sluice --engine io_uring, task run ${mode}`,
    group: 'sluice',
    engine: 'io_uring',
    command: (ctx) => ({
      cmd: process.execPath,
      args: [CLI, ctx.root, '--host', '127.0.0.1', '--port', '0', '--engine', 'io_uring', '--small-file-max', '0', '--no-front-door'],
      env: { ...NODE_ENV, SLUICE_URING_TASKRUN: mode },
    }),
  })),
  // Another build of sluice (a checkout given by SLUICE_BENCH_BASELINE), so
  // a change is measured against what it changes, in the same run: as the
  // CLI starts by default (front door on where it can be), and with the
  // front door off (every request through Node's HTTP layer, as sluice-auto).
  ...[
    { name: 'baseline-auto', label: 'sluice --engine auto (baseline build)', flags: [] },
    { name: 'baseline-no-front-door', label: 'sluice --engine auto --no-front-door (baseline build)', flags: ['--no-front-door'] },
  ].map(({ name, label, flags }) => ({
    name,
    label,
    group: 'sluice',
    engine: 'auto',
    available: () => (process.env.SLUICE_BENCH_BASELINE ? null : 'set SLUICE_BENCH_BASELINE to a built checkout to measure it'),
    command: (ctx) => ({
      cmd: process.execPath,
      args: [path.join(path.resolve(process.env.SLUICE_BENCH_BASELINE), 'dist', 'cli.js'), ctx.root, '--host', '127.0.0.1', '--port', '0', ...flags],
      env: NODE_ENV,
    }),
  })),
  {
    name: 'sluice-express',
    label: 'express + sluice serveStatic (auto)',
    group: 'sluice',
    command: (ctx) => nodeScript('express-app.js', [ctx.root, 'sluice', 'auto']),
  },
  {
    name: 'express',
    label: 'express 5 + serve-static',
    group: 'peer',
    ratio: 'express',
    command: (ctx) => nodeScript('express-app.js', [ctx.root, 'serve-static']),
  },
  {
    name: 'sirv',
    label: 'sirv (dev: false, etag: true)',
    group: 'peer',
    ratio: 'sirv',
    command: (ctx) => nodeScript('sirv.js', [ctx.root]),
  },
  {
    name: 'fastify',
    label: 'fastify + @fastify/static',
    group: 'peer',
    ratio: 'fastify',
    command: (ctx) => nodeScript('fastify-app.js', [ctx.root, 'static', 'serve']),
  },
  {
    name: 'fastify-sluice',
    label: 'fastify + sluice/fastify (auto)',
    group: 'sluice',
    command: (ctx) => nodeScript('fastify-app.js', [ctx.root, 'sluice', 'serve']),
  },
  {
    // A catch-all route answering with one file (an SPA's index.html).
    name: 'fastify-sendfile',
    label: 'fastify route + @fastify/static reply.sendFile',
    group: 'peer',
    ratio: 'fastify sendFile',
    command: (ctx, kase) => nodeScript('fastify-app.js', [ctx.root, 'static', 'sendfile', kase.file.name]),
  },
  {
    name: 'fastify-sluice-sendfile',
    label: 'fastify route + sluice/fastify reply.sendFile',
    group: 'sluice',
    command: (ctx, kase) => nodeScript('fastify-app.js', [ctx.root, 'sluice', 'sendfile', kase.file.name]),
  },
  // NestJS apps with ServeStaticModule.forRoot({ rootPath }): @nestjs/serve-static
  // from NEST_SERVE_STATIC_DIR (see servers/nest-app.js), and sluice/nest.
  ...['express', 'fastify'].flatMap((platform) => {
    const suffix = platform === 'express' ? '' : '-fastify';
    return [
      {
        name: `nest${suffix}`,
        label: `nest (${platform}) + @nestjs/serve-static`,
        group: 'peer',
        ratio: `nest${suffix}`,
        available: nestServeStaticMissing,
        command: (ctx) => ({
          ...nodeScript('nest-app.js', [ctx.root, 'serve-static', platform]),
          env: { ...NODE_ENV, NEST_SERVE_STATIC_DIR: process.env.NEST_SERVE_STATIC_DIR },
        }),
      },
      {
        name: `nest${suffix}-sluice`,
        label: `nest (${platform}) + sluice/nest (auto)`,
        group: 'sluice',
        command: (ctx) => nodeScript('nest-app.js', [ctx.root, 'sluice', platform]),
      },
    ];
  }),
  {
    name: 'koa',
    label: 'koa 3 + koa-static',
    group: 'peer',
    ratio: 'koa',
    ranges: false, // koa-send answers a Range with the whole file
    // Without ranges a sample is the whole body: past 4 MiB it would be a second download competing with the load.
    sampleInLoad: (kase) => kase.size <= 4 * 1024 * 1024,
    command: (ctx) => nodeScript('koa-app.js', [ctx.root, 'koa-static']),
  },
  {
    name: 'koa-sluice',
    label: 'koa 3 + sluice/koa (auto)',
    group: 'sluice',
    command: (ctx) => nodeScript('koa-app.js', [ctx.root, 'sluice', 'auto']),
  },
  {
    name: 'hono',
    label: 'hono + @hono/node-server serveStatic',
    group: 'peer',
    ratio: 'hono',
    command: (ctx) => nodeScript('hono-app.js', [ctx.root, 'node-server']),
  },
  {
    name: 'hono-sluice',
    label: 'hono + sluice/hono serveStatic (auto)',
    group: 'sluice',
    command: (ctx) => nodeScript('hono-app.js', [ctx.root, 'sluice']),
  },
  {
    // A fetch app: file() under sluice's fetch server, sent zero-copy.
    name: 'fetch-sluice',
    label: 'sluice createServer({ fetch }) + file() (auto)',
    group: 'sluice',
    command: (ctx) => nodeScript('fetch-app.js', [ctx.root, 'sluice', 'auto']),
  },
  {
    // The same route on @hono/node-server, the file as a Web stream.
    name: 'fetch-hono',
    label: '@hono/node-server + Response(Readable.toWeb(fs stream))',
    group: 'peer',
    ratio: 'hono stream',
    ranges: false, // a Web stream of the whole file: no Range support
    command: (ctx) => nodeScript('fetch-app.js', [ctx.root, 'hono']),
  },
  {
    name: 'node-mem',
    label: 'node http from memory (ceiling)',
    group: 'ceiling',
    ratio: 'node-mem',
    command: (ctx, kase) => nodeScript('node-memory.js', [ctx.root, kase.file.name]),
  },
  {
    name: 'nginx',
    label: 'nginx (sendfile on)',
    group: 'peer',
    ratio: 'nginx',
    available: (ctx) => (ctx.nginx.skip ? ctx.nginx.skip : null),
    fixedPort: true,
    command: (ctx, kase, port) => {
      const prepared = nginx.prepare(ctx.nginx, ctx.root, port);
      return { cmd: prepared.bin, args: prepared.args, cleanup: prepared.cleanup };
    },
  },
  {
    name: 'c-sendfile',
    label: 'C sendfile loop (reference)',
    group: 'ref',
    ratio: 'C',
    ranges: false, // answers every GET with the whole file
    sampleInLoad: false, // one connection at a time: a sampler would queue behind the load
    // single-threaded and blocking: only meaningful for one connection on one file
    appliesTo: (kase) => kase.kind === 'bulk' && kase.connections === 1,
    available: (ctx) => (ctx.cref.skip ? ctx.cref.skip : null),
    command: (ctx, kase) => ({ cmd: ctx.cref.binary, args: [kase.file.path, '0'] }),
  },
  {
    // This machine's ceiling for small files: answering from memory with
    // nothing else around it, and a check on when the load generator is the limit.
    name: 'c-epoll',
    label: 'C epoll server from memory (ceiling)',
    group: 'ref',
    ratio: 'C epoll',
    ranges: false, // answers every GET with the whole file
    appliesTo: (kase) => kase.size <= 1024 * 1024,
    available: (ctx) => (ctx.crefEpoll.skip ? ctx.crefEpoll.skip : null),
    command: (ctx, kase) => ({ cmd: ctx.crefEpoll.binary, args: [kase.file.path, '0'] }),
  },
];

/** Why the @nestjs/serve-static subjects cannot run (null: they can). */
function nestServeStaticMissing() {
  const dir = process.env.NEST_SERVE_STATIC_DIR;
  if (!dir) return 'set NEST_SERVE_STATIC_DIR to a directory with @nestjs/serve-static and Nest installed';
  try {
    require('node:module')
      .createRequire(path.join(path.resolve(dir), 'package.json'))
      .resolve('@nestjs/serve-static');
    return null;
  } catch {
    return `no @nestjs/serve-static under ${dir}`;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

async function waitForPort(child, port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exited) throw new Error(`${procs.describeExit(child)}: ${procs.tail(child.stderrTail) || '(no output)'}`);
    if (await canConnect(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listening on port ${port} after ${timeoutMs} ms`);
}

/**
 * Starts `subject` for `kase`. Resolves { child, url, port, engine, cleanup }
 * or rejects; an error with `.unavailable` means "skip with this message".
 */
async function launch(subject, ctx, kase) {
  const why = subject.available ? subject.available(ctx) : null;
  if (why) throw Object.assign(new Error(why), { unavailable: true });
  const port = subject.fixedPort ? await freePort() : 0;
  const spec = subject.command(ctx, kase, port);
  const child = procs.start(spec.cmd, spec.args, {
    cpu: ctx.pin ? ctx.serverCpu : null,
    env: spec.env,
    cwd: ROOT,
    name: subject.name,
  });
  const cleanup = spec.cleanup || (() => {});
  try {
    if (subject.fixedPort) {
      await waitForPort(child, port, 10000);
      return { child, port, url: `http://127.0.0.1:${port}`, engine: null, cleanup };
    }
    const m = await procs.waitForLine(child, new RegExp(`${URL_RE.source}.*`), 15000);
    const engine = (m[0].match(/engine=(\S+)/) || [])[1] || null;
    return { child, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}`, engine, cleanup };
  } catch (err) {
    await procs.stop(child, 500);
    cleanup();
    // A sluice engine this machine cannot run exits non-zero at start-up.
    if (err.exitedEarly && subject.group === 'sluice') err.unavailable = true;
    throw err;
  }
}

module.exports = { SUBJECTS, SLUICE_ENGINES, launch, CLI, freePort, waitForPort };
