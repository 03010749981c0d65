'use strict';
// A NestJS 11 app (logger off) serving files at the root with
// ServeStaticModule.forRoot({ rootPath: root }), on the Express or the
// Fastify platform, from either sluice/nest or @nestjs/serve-static.
// @nestjs/serve-static is not a dependency of this repository (its
// releases ask for other @fastify/static majors than sluice tests
// against): 'serve-static' loads it, and Nest with it, from the directory
// NEST_SERVE_STATIC_DIR names (an `npm install @nestjs/serve-static
// @nestjs/core @nestjs/common @nestjs/platform-express ...` there).
// usage: node nest-app.js <root> sluice|serve-static express|fastify

const path = require('node:path');
const { createRequire } = require('node:module');
const { pathToFileURL } = require('node:url');

const [root, which = 'sluice', platform = 'express'] = process.argv.slice(2);
if (!root || !['sluice', 'serve-static'].includes(which) || !['express', 'fastify'].includes(platform)) {
  process.stderr.write('usage: nest-app.js <root> sluice|serve-static express|fastify\n');
  process.exit(2);
}

async function load() {
  if (which === 'sluice') {
    return { req: require, ServeStaticModule: require(path.join(__dirname, '..', '..', 'dist', 'nest.js')).ServeStaticModule };
  }
  const dir = process.env.NEST_SERVE_STATIC_DIR;
  if (!dir) throw new Error('NEST_SERVE_STATIC_DIR: the directory @nestjs/serve-static is installed in');
  const req = createRequire(path.join(path.resolve(dir), 'package.json'));
  const { ServeStaticModule } = await import(pathToFileURL(req.resolve('@nestjs/serve-static')).href);
  return { req, ServeStaticModule };
}

async function main() {
  const { req, ServeStaticModule } = await load();
  req('reflect-metadata');
  const { NestFactory } = req('@nestjs/core');
  class AppModule {}
  const mod = { module: AppModule, imports: [ServeStaticModule.forRoot({ rootPath: path.resolve(root) })] };
  const options = { logger: false };
  const app =
    platform === 'fastify'
      ? await NestFactory.create(mod, new (req('@nestjs/platform-fastify').FastifyAdapter)(), options)
      : await NestFactory.create(mod, options);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address();
  process.stdout.write(`nest listening on http://127.0.0.1:${port} ${which} ${platform}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`);
  process.exit(1);
});
