// Construction shared by every adapter (handler, middleware, Fastify
// plugin): validate the root and options once and bind the engine.
import * as path from 'node:path';
import { chooseEngine, type EngineName } from './engines';
import { resolveOptions, type SluiceOptions } from './options';
import { createResponder, type Responder } from './responder';

/** Root as serve-static checks it, with serve-static's messages (code matches on them). */
export function checkRoot(root: unknown): string {
  if (!root) throw new TypeError('root path required');
  if (typeof root !== 'string') throw new TypeError('root path must be a string');
  return path.resolve(root);
}

export interface Built {
  responder: Responder;
  root: string;
  engine: EngineName;
  engineNote: string;
}

export function build(root: unknown, opts: SluiceOptions | null | undefined): Built {
  const absRoot = checkRoot(root);
  const resolved = resolveOptions(opts);
  const choice = chooseEngine(resolved.engine, { maxChunk: resolved.maxChunk, sendTimeout: resolved.sendTimeout });
  return {
    responder: createResponder(absRoot, resolved, choice.engine, choice.framed),
    root: absRoot,
    engine: choice.engine.name,
    engineNote: choice.note,
  };
}
