// Directory listings (@fastify/static's `list` option): the entries of a
// directory below the root as JSON (names, or names with stats) or as the
// HTML a `render` function makes of them, sent through Fastify's reply.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { FastifyReply } from 'fastify';
import type { DotfilePolicy } from '../resolve';
import { FST_STATIC_INVALID_OPTION_VALUE } from './errors';
import type { ExtendedInformation, ListDir, ListOptions } from './options';

interface Entry {
  name: string;
  stats: import('node:fs').Stats;
  extendedInfo?: ExtendedInformation;
}

/** Directory entries stat'ed at once, at most this many in flight. */
const STAT_CONCURRENCY = 16;

async function eachLimited<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(STAT_CONCURRENCY, items.length) }, worker));
}

/** Sizes and counts of everything below `dir` (extendedFolderInfo). */
async function extendedInfo(dir: string, info?: ExtendedInformation, depth = 0): Promise<ExtendedInformation> {
  const out = info ?? { totalSize: 0, fileCount: 0, totalFileCount: 0, folderCount: 0, totalFolderCount: 0, lastModified: 0 };
  const names = await fs.readdir(dir);
  await eachLimited(names, async (name) => {
    const stats = await fs.stat(path.join(dir, name)).catch(() => null);
    if (stats === null) return;
    if (stats.isDirectory()) {
      out.totalFolderCount++;
      if (depth === 0) out.folderCount++;
      await extendedInfo(path.join(dir, name), out, depth + 1);
    } else {
      out.totalSize += stats.size;
      out.totalFileCount++;
      if (depth === 0) out.fileCount++;
      out.lastModified = Math.max(out.lastModified, stats.mtimeMs);
    }
  });
  return out;
}

/** The entries of `dir`, directories and files apart, each sorted by name. */
async function entriesOf(dir: string, options: ListOptions, dotfiles: DotfilePolicy): Promise<{ dirs: Entry[]; files: Entry[] }> {
  let names = await fs.readdir(dir);
  if (dotfiles !== 'allow') names = names.filter((n) => !n.startsWith('.'));
  const dirs: Entry[] = [];
  const files: Entry[] = [];
  await eachLimited(names, async (name) => {
    const stats = await fs.stat(path.join(dir, name)).catch(() => null);
    if (stats === null) return;
    if (!stats.isDirectory()) return void files.push({ name, stats });
    const entry: Entry = { name, stats };
    if (options.extendedFolderInfo) entry.extendedInfo = await extendedInfo(path.join(dir, name));
    dirs.push(entry);
  });
  const byName = (a: Entry, b: Entry): number => a.name.localeCompare(b.name);
  return { dirs: dirs.sort(byName), files: files.sort(byName) };
}

/** Whether a request path names a listing by `names` (`/dir/index`, or `/dir/` when '/' is a name). */
export function isListingName(route: string, options: ListOptions): boolean {
  const names = options.names;
  if (names === undefined) return false;
  return names.includes(path.posix.basename(route)) || (names.includes('/') && route.endsWith('/'));
}

/** The directory a listing name is in, below `root`, or null when it would leave root. */
export function listingDir(root: string, route: string): string | null {
  const relative = route.endsWith('/') ? `.${route}none` : `.${route}`;
  const base = path.resolve(root);
  const dir = path.dirname(path.resolve(base, relative));
  const rel = path.relative(base, dir);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel)) ? dir : null;
}

function htmlEntry(entry: Entry, route: string, prefix: string, options: ListOptions): ListDir {
  // `/dir/index` lists `/dir`: links are relative to the directory, not the name.
  const base = options.names?.includes(path.posix.basename(route)) ? path.posix.normalize(path.posix.join(route, '..')) : route;
  return { href: encodeURI(path.posix.join(prefix, base, entry.name)), name: entry.name, stats: entry.stats, extendedInfo: entry.extendedInfo };
}

export interface Listing {
  reply: FastifyReply;
  dir: string;
  options: ListOptions;
  /** The request's path below the prefix. */
  route: string;
  prefix: string;
  dotfiles: DotfilePolicy;
}

/** Sends the listing of `dir` (an unreadable directory is not found). */
export async function sendListing({ reply, dir, options, route, prefix, dotfiles }: Listing): Promise<void> {
  const query = reply.request.query as { format?: string } | undefined;
  if (query?.format === 'html' && typeof options.render !== 'function') {
    throw new FST_STATIC_INVALID_OPTION_VALUE('list.render', 'must be a function and is required with the URL parameter `format=html`');
  }
  let entries: { dirs: Entry[]; files: Entry[] };
  try {
    entries = await entriesOf(dir, options, dotfiles);
  } catch {
    return void reply.callNotFound();
  }
  const format = query?.format || options.format;
  if (format !== 'html') {
    if (options.jsonFormat === 'extended') return void (await reply.send(entries));
    return void (await reply.send({ dirs: entries.dirs.map((e) => e.name), files: entries.files.map((e) => e.name) }));
  }
  const render = options.render as NonNullable<ListOptions['render']>;
  const html = render(
    entries.dirs.map((e) => htmlEntry(e, route, prefix, options)),
    entries.files.map((e) => htmlEntry(e, route, prefix, options)),
  );
  await reply.type('text/html').send(html);
}
