// sluice/fetch: the fetch-style API. file(request, path, options) answers
// with a Response whose body is a byte ReadableStream over the file (any
// fetch host can send it), and createServer(root, { fetch }) runs a fetch
// handler on Node's HTTP server, sending file() Responses zero-copy.
export { file, type FileOptions } from './fetch/file';
export type { FetchContext, FetchHandler } from './fetch/server';
export { createServer, type ServerOptions, type SluiceServer } from './index';
