// The published types from a consumer's side: a small TypeScript program
// that imports every subpath export ('sluice', 'sluice/fastify', 'sluice/koa', 'sluice/hono', 'sluice/nest', 'sluice/fetch') compiles
// under each module resolution a project may use: node10 (through
// typesVersions), node16 and nodenext (through exports, as CommonJS and as
// ES modules) and bundler. It compiles against dist/, as installed.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const REPO = path.resolve(__dirname, '..', '..', '..');
const DIR = path.join(REPO, '.test-build', 'type-consumers');

const CONSUMER = `
import * as http from 'node:http';
import { createHandler, sendFile, serveStatic, type SendFileOptions, type SluiceOptions } from 'sluice';
import sluiceFastify, { fastifyStatic, type FastifyStaticOptions, type SluicePluginOptions } from 'sluice/fastify';
import Fastify from 'fastify';
import serveKoa, { send as koaSend, type SendOptions as KoaSendOptions, type StaticOptions as KoaStaticOptions } from 'sluice/koa';
import Koa from 'koa';
import { serveStatic as honoStatic, type ServeStaticOptions } from 'sluice/hono';
import { Hono } from 'hono';
import type { DynamicModule } from '@nestjs/common';
import { ServeStaticModule, SluiceServeStaticModule, type ServeStaticModuleOptions } from 'sluice/nest';
import { file, createServer as createFetchServer, type FetchHandler, type FileOptions } from 'sluice/fetch';
import { file as fileFromRoot, type FetchContext } from 'sluice';

const fileOptions: SendFileOptions = { root: '/srv/app', maxAge: '1d', headers: { 'x-app': '1' } };
http.createServer((req, res) => {
  sendFile(req, res, 'index.html', fileOptions).catch(() => res.end());
  sendFile(req, res, '/srv/app/index.html', (err?: Error) => {
    if (err) res.end();
  });
});
const middleware = serveStatic('public', { maxAge: 1000, precompressed: ['br'] } satisfies SluiceOptions);
const handler = createHandler('public');
void middleware;
void handler.engine;

const app = Fastify();
const pluginOptions: SluicePluginOptions = { root: '/srv/app', prefix: '/static/', preCompressed: true, list: { format: 'json' } };
const asFastifyStatic: FastifyStaticOptions = { root: ['/a', '/b'], wildcard: false, setHeaders: (reply, file) => void reply.header('x-file', file) };
void app.register(sluiceFastify, pluginOptions);
void app.register(fastifyStatic, asFastifyStatic);
app.get('/app/*', (_request, reply) => reply.sendFile('index.html', { maxAge: 1 }));
app.get('/download', (_request, reply) => reply.download('report.pdf', 'report-2026.pdf'));

const koa = new Koa();
const staticOptions: KoaStaticOptions = { maxage: 3_600_000, defer: false, index: 'index.html', extensions: ['html'], symlinks: 'within-root' };
koa.use(serveKoa('public', staticOptions));
koa.use(async (ctx, next) => {
  const options: KoaSendOptions = { root: 'public', brotli: false, setHeaders: (res, file, stats) => res.setHeader('x-size', String(stats.size) + file) };
  const sent: string | undefined = await koaSend(ctx, ctx.path, options);
  if (sent === undefined) await next();
});
type HonoEnv = { Variables: { path: string } };
const hono = new Hono<HonoEnv>();
const honoOptions: ServeStaticOptions<HonoEnv> = {
  root: './public',
  precompressed: true,
  rewriteRequestPath: (p, c) => p.replace('/static', c.get('path')),
  onFound: (p, c) => c.header('X-File', p),
  onNotFound: async (p) => void p,
  mimes: { m3u8: 'application/vnd.apple.mpegurl' },
  maxAge: '1d',
  etag: 'strong',
  symlinks: 'within-root',
  compress: { maxBytes: 1 << 20 },
};
hono.use('/static/*', honoStatic(honoOptions));
hono.use('/favicon.ico', honoStatic({ path: './public/favicon.ico' }));
const nestOptions: ServeStaticModuleOptions = {
  rootPath: '/srv/app',
  serveRoot: '/static',
  renderPath: '/app/{*any}',
  exclude: ['/api/{*any}'],
  useGlobalPrefix: true,
  serveStaticOptions: { maxAge: '1d', fallthrough: true, setHeaders: (res) => res.setHeader('x-app', '1'), engine: 'auto' },
};
const nestModule: DynamicModule = SluiceServeStaticModule.forRoot(nestOptions, { rootPath: '/srv/docs', serveRoot: '/docs', exclude: /^\\/api/ });
const nestAsync: DynamicModule = ServeStaticModule.forRootAsync({ useFactory: async () => [nestOptions], inject: [] });
void nestModule;
void nestAsync;
const fetchFileOptions: FileOptions = { root: '/srv/app', maxAge: '1d', precompressed: ['br', 'gzip'] };
const onFetch: FetchHandler = async (request: Request, context: FetchContext): Promise<Response> => {
  const { pathname } = new URL(request.url);
  if (pathname === '/') return context.file('index.html');
  if (pathname.startsWith('/assets/')) return file(request, pathname.slice(8), fetchFileOptions);
  const response: Response = await fileFromRoot(request, '/srv/app/robots.txt');
  return response.status === 404 ? new Response('none', { status: 404 }) : response;
};
createFetchServer('public', { fetch: onFetch, frontDoor: false }).listen(0);
`;

interface Mode {
  name: string;
  /** consumer.ts is CommonJS under node16/nodenext (the package has no "type"), consumer.mts an ES module. */
  files: string[];
  options: ts.CompilerOptions;
}

const MODES: Mode[] = [
  { name: 'node10', files: ['consumer.ts'], options: { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 } },
  { name: 'node16', files: ['consumer.ts', 'consumer.mts'], options: { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 } },
  { name: 'nodenext', files: ['consumer.ts', 'consumer.mts'], options: { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext } },
  { name: 'bundler', files: ['consumer.ts'], options: { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler } },
];

/** Parsed declaration files, shared by the four programs (parsing @types/node and fastify is most of the time). */
const parsed = new Map<string, ts.SourceFile | undefined>();

function cachingHost(options: ts.CompilerOptions): ts.CompilerHost {
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersionOrOptions, onError, shouldCreate) => {
    if (!fileName.endsWith('.d.ts')) return getSourceFile(fileName, languageVersionOrOptions, onError, shouldCreate);
    const key = `${fileName}|${JSON.stringify(languageVersionOrOptions)}`;
    if (!parsed.has(key)) parsed.set(key, getSourceFile(fileName, languageVersionOrOptions, onError, shouldCreate));
    return parsed.get(key);
  };
  return host;
}

/** Errors compiling the consumers in `mode`, formatted with their file. */
function diagnostics(mode: Mode): string[] {
  const options: ts.CompilerOptions = {
    ...mode.options,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    esModuleInterop: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [path.join(REPO, 'node_modules', '@types')],
  };
  const program = ts.createProgram(
    mode.files.map((f) => path.join(DIR, f)),
    options,
    cachingHost(options),
  );
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => `${d.file ? path.basename(d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('published types', function () {
  this.timeout(120_000);

  before(() => {
    assert.ok(fs.existsSync(path.join(REPO, 'dist', 'fastify.d.ts')), 'build dist/ first (npx tsc -p tsconfig.json)');
    fs.mkdirSync(path.join(DIR, 'node_modules'), { recursive: true });
    const link = path.join(DIR, 'node_modules', 'sluice');
    if (!fs.existsSync(link)) fs.symlinkSync(REPO, link, 'dir');
    fs.writeFileSync(path.join(DIR, 'package.json'), '{ "name": "type-consumer", "private": true }\n');
    fs.writeFileSync(path.join(DIR, 'consumer.ts'), CONSUMER);
    fs.writeFileSync(path.join(DIR, 'consumer.mts'), CONSUMER);
  });

  it('should give an ES module at run time the names the types promise', () => {
    const script = [
      "import sluiceFastify, { fastifyStatic, sluice, errors } from 'sluice/fastify';",
      "import { sendFile, serveStatic, createServer, file } from 'sluice';",
      "import * as fetchApi from 'sluice/fetch';",
      "import serveKoa, { serve as koaServe, send as koaSend } from 'sluice/koa';",
      "import { serveStatic as honoStatic } from 'sluice/hono';",
      "import { SluiceServeStaticModule, ServeStaticModule } from 'sluice/nest';",
      'const ok = typeof sluiceFastify === "function" && fastifyStatic === sluiceFastify && sluice === sluiceFastify && typeof honoStatic === "function";',
      'const koaOk = typeof serveKoa === "function" && koaServe === serveKoa && typeof koaSend === "function";',
      'const nest = ServeStaticModule === SluiceServeStaticModule && typeof SluiceServeStaticModule.forRoot === "function";',
      'console.log(ok && koaOk && nest && typeof errors.FST_STATIC_INVALID_OPTION === "function" && [sendFile, serveStatic, createServer, file, fetchApi.file, fetchApi.createServer].every((f) => typeof f === "function"));',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: DIR, encoding: 'utf8' });
    assert.equal(out.trim(), 'true');
  });

  for (const mode of MODES) {
    it(`should compile consumers of every subpath under moduleResolution ${mode.name}`, () => {
      assert.deepEqual(diagnostics(mode), []);
    });
  }
});
