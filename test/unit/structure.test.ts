// The layering the design promises, checked on the sources: HTTP logic
// above the engines, no module importing one above it, Node's socket
// internals touched in one file, no Node-API or libuv in the native core,
// no function in server/src longer than a screen, no class that every
// stage calls back into, one home for what used to be kept twice, and
// every ERR_SLUICE_* error made in errors.ts; and the CLI suites starting
// the CLI through one helper.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';

const REPO = path.resolve(__dirname, '..', '..', '..');
const SRC = path.join(REPO, 'server', 'src');
const CORE = path.join(REPO, 'native', 'src', 'core');
const NATIVE = path.join(REPO, 'native', 'src');
const TESTS = path.join(REPO, 'test');
const MAX_FUNCTION_LINES = 60;
/** A class past these is several jobs in one (responder.ts was 460 lines and 26 methods). */
const MAX_CLASS_LINES = 250;
const MAX_CLASS_METHODS = 20;

/**
 * Each module's layer, lowest first: a module may import its own layer and
 * those below. engines/ is one layer: it moves bytes and knows no HTTP.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['body', 'errors', 'http-error', 'negotiate', 'native', 'descriptors', 'trust-proxy', 'counters'],
  ['engines/*', 'file-table', 'conditional', 'range', 'resolve', 'globs'],
  ['auth', 'options', 'head', 'rules', 'digest'],
  ['compress-worker'],
  ['multipart', 'precompressed', 'compress-cache', 'compress-warm', 'symlinks', 'responses', 'listing'],
  ['plan'],
  ['deliver', 'exchange'],
  ['answers'],
  ['finder'],
  ['responder'],
  ['setup', 'access-log', 'connections', 'serve-config', 'metrics', 'proxy'],
  ['send-file', 'fastify/*', 'koa/*', 'hono/*', 'fetch/*'],
  ['index', 'fastify', 'serve-handler', 'koa', 'hono', 'fetch'],
  ['nest/*'],
  ['nest'],
  ['compress-command', 'drain', 'workers', 'workers-listen', 'cli-options', 'unix-socket', 'basic-auth'],
  ['compat-http-server'],
  ['cli', 'http-server-sluice'],
];

function layerOf(module: string): number {
  const dir = module.includes('/') ? `${module.slice(0, module.indexOf('/'))}/*` : null;
  const i = LAYERS.findIndex((layer) => layer.includes(module) || (dir !== null && layer.includes(dir)));
  assert.ok(i >= 0, `${module} has no layer: add it to LAYERS`);
  return i;
}

function filesUnder(dir: string, ext: RegExp): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => ext.test(f))
    .map((f) => path.join(dir, f));
}

const sources = filesUnder(SRC, /\.ts$/).map((file) => ({
  module: path.relative(SRC, file).replace(/\.ts$/, ''),
  text: fs.readFileSync(file, 'utf8'),
}));

function parse(module: string, text: string): ts.SourceFile {
  return ts.createSourceFile(`${module}.ts`, text, ts.ScriptTarget.Latest, true);
}

/** Our modules `text` imports (relative specifiers), as module names under server/src. */
function importsOf(module: string, file: ts.SourceFile): string[] {
  const out: string[] = [];
  for (const stmt of file.statements) {
    if ((ts.isImportDeclaration(stmt) || ts.isExportDeclaration(stmt)) && stmt.moduleSpecifier && ts.isStringLiteral(stmt.moduleSpecifier)) {
      const spec = stmt.moduleSpecifier.text;
      if (spec.startsWith('.')) out.push(path.posix.normalize(path.posix.join(path.posix.dirname(module), spec)).replace(/\/index$/, '/index'));
    }
  }
  return out.map((m) => (m === 'engines' ? 'engines/index' : m));
}

interface LongFunction {
  where: string;
  lines: number;
}

function longFunctions(module: string, file: ts.SourceFile): LongFunction[] {
  const out: LongFunction[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      if (end - start + 1 > MAX_FUNCTION_LINES) out.push({ where: `${module}.ts:${start + 1}`, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

interface ClassShape {
  where: string;
  lines: number;
  methods: number;
}

function classShapes(module: string, file: ts.SourceFile): ClassShape[] {
  const out: ClassShape[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isClassDeclaration(node)) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      // Methods, and arrow functions kept as properties (`readonly serve = (...) => ...`).
      const methods = node.members.filter(
        (m) => ts.isMethodDeclaration(m) || (ts.isPropertyDeclaration(m) && m.initializer !== undefined && ts.isArrowFunction(m.initializer)),
      ).length;
      out.push({ where: `${module}.ts:${start + 1} ${node.name?.text ?? '(anonymous)'}`, lines: end - start + 1, methods });
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

/** Calls that pass `null, null` as neighbouring arguments: a record says what they mean. */
function nullPairs(module: string, file: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
      const args = node.arguments ?? ts.factory.createNodeArray();
      for (let i = 1; i < args.length; i++) {
        if (args[i - 1].kind === ts.SyntaxKind.NullKeyword && args[i].kind === ts.SyntaxKind.NullKeyword) {
          out.push(`${module}.ts:${file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1}`);
          break;
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

/** Method names that are a preposition and no verb (`withVariants`, `fromCache`, `guarded`). */
const PREPOSITION_NAME = /^(with|from|by|into|via|guarded)([A-Z]|$)/;

function prepositionMethods(module: string, file: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isMethodDeclaration(node) && ts.isIdentifier(node.name) && PREPOSITION_NAME.test(node.name.text)) out.push(`${module}.ts ${node.name.text}`);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

/** String literals (and template texts) that spell an ERR_SLUICE_* code: errors.ts's CODES is their one home. */
function sluiceCodeLiterals(module: string, file: ts.SourceFile): string[] {
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) && node.text.includes('ERR_SLUICE_')) {
      out.push(`${module}.ts:${file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return out;
}

describe('source structure', () => {
  it('should have no module import one in a layer above it', () => {
    const wrong: string[] = [];
    for (const { module, text } of sources) {
      for (const dep of importsOf(module, parse(module, text))) {
        if (layerOf(dep) > layerOf(module)) wrong.push(`${module} imports ${dep}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it(`should have no function in server/src longer than ${MAX_FUNCTION_LINES} lines`, () => {
    const long = sources.flatMap(({ module, text }) => longFunctions(module, parse(module, text)));
    assert.deepEqual(long, []);
  });

  it('should touch Node socket and response internals only in engines/socket.ts', () => {
    const internals = /\._handle\b|\._header\b|\._headerSent\b|\._httpMessage\b|\.outputData\b|\._implicitHeader\b/;
    const touching = sources.filter(({ module, text }) => module !== 'engines/socket' && internals.test(text)).map((s) => s.module);
    assert.deepEqual(touching, []);
  });

  // The compress cache's worker thread also asks it for one thing: its own
  // scheduling class (SCHED_IDLE), which Node has no call for.
  it('should import the addon only from engines/ (and its loader, and the compress worker)', () => {
    const allowed = (module: string) => module.startsWith('engines/') || module === 'native' || module === 'compress-worker';
    const importing = sources.filter(({ module, text }) => !allowed(module) && importsOf(module, parse(module, text)).includes('native')).map((s) => s.module);
    assert.deepEqual(importing, []);
  });

  it('should include no Node-API or libuv header in native/src/core', () => {
    const nodeHeaders = /#include\s*[<"](napi\.h|node_api\.h|js_native_api\.h|uv\.h|node\.h)[>"]/;
    const including = filesUnder(CORE, /\.(h|cc)$/).filter((f) => nodeHeaders.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(
      including.map((f) => path.relative(REPO, f)),
      [],
    );
  });

  it(`should have no class in server/src over ${MAX_CLASS_LINES} lines or ${MAX_CLASS_METHODS} methods`, () => {
    const large = sources
      .flatMap(({ module, text }) => classShapes(module, parse(module, text)))
      .filter((c) => c.lines > MAX_CLASS_LINES || c.methods > MAX_CLASS_METHODS);
    assert.deepEqual(large, []);
  });

  it('should pass no two positional nulls side by side in server/src', () => {
    assert.deepEqual(
      sources.flatMap(({ module, text }) => nullPairs(module, parse(module, text))),
      [],
    );
  });

  it('should name no method in server/src with a bare preposition', () => {
    assert.deepEqual(
      sources.flatMap(({ module, text }) => prepositionMethods(module, parse(module, text))),
      [],
    );
  });

  // A peer's answers (serve-handler's) are an options record, decided once.
  it("should ask which product it imitates only where options are made (no 'serve-handler' test in the core)", () => {
    const asking = sources
      .filter(({ module, text }) => module !== 'serve-handler' && /===\s*'serve-handler'|'serve-handler'\s*===/.test(text))
      .map((s) => s.module);
    assert.deepEqual(asking, []);
  });

  it('should spell every ERR_SLUICE_* code in errors.ts only (errors are made there; others compare with its CODES)', () => {
    assert.deepEqual(
      sources.filter(({ module }) => module !== 'errors').flatMap(({ module, text }) => sluiceCodeLiterals(module, parse(module, text))),
      [],
    );
  });

  it('should define the native status values (kDone, kEof, kAgain, kYield, kPending) in core/progress.h only', () => {
    const defining = filesUnder(NATIVE, /\.(h|cc)$/)
      .filter((f) => !f.endsWith(path.join('core', 'progress.h')))
      .filter((f) => /constexpr\s+int\s+k(Done|Eof|Again|Yield|Pending|InFlight)\b/.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(
      defining.map((f) => path.relative(REPO, f)),
      [],
    );
  });

  it('should keep one sha256 and one openFdCount for the tests (test/helpers/fixtures.ts)', () => {
    const own = /\bfunction\s+(sha256|openFdCount)\s*\(|\bconst\s+(sha256|openFdCount)\s*=/;
    const copies = filesUnder(TESTS, /\.ts$/)
      .filter((f) => !f.endsWith(path.join('helpers', 'fixtures.ts')))
      .filter((f) => own.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(
      copies.map((f) => path.relative(REPO, f)),
      [],
    );
  });

  it("should build a file response's fields in head.ts only (fileFields), for every adapter and the front door", () => {
    // Express's preset path and the cached lists each built them once.
    const field = /'(Accept-Ranges|Last-Modified|ETag|Content-Encoding)'/;
    const builders = sources.filter((s) => s.module !== 'head' && field.test(s.text)).map((s) => s.module);
    assert.deepEqual(builders, []);
  });

  it('should start, stop and run the CLI in test/cli only through test/helpers/cli.ts', () => {
    // A private spawn of dist/cli.js, or a private stop(), is where the
    // suites used to disagree on when a server has started and how it ends.
    const own = /\bspawn(Sync)?\(\s*process\.execPath,\s*\[\s*CLI\b|\bfunction\s+stop\s*\(/;
    const copies = filesUnder(path.join(TESTS, 'cli'), /\.ts$/).filter((f) => own.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(
      copies.map((f) => path.relative(REPO, f)),
      [],
    );
  });
});
