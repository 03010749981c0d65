// Directory listings: read a directory, leave out what must not show, and
// render it as an HTML page (name, size, modified time, breadcrumbs) or as
// JSON (serve's shape: `{ directory, paths, files }`). Every name reaches
// the page through escapeHtml and every link through encodeURIComponent,
// so a file called `<img src=x onerror=alert(1)>.txt` is text, never markup.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SourcePattern } from './globs';
import { escapeHtml } from './responses';

export interface ListingEntry {
  readonly name: string;
  readonly directory: boolean;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface ListingFilter {
  /** Whether names starting with '.' show (only when dotfiles are served). */
  readonly dotfiles: boolean;
  /** serve.json's `unlisted`, matched against the name. */
  readonly unlisted: readonly SourcePattern[];
}

/** Never listed, whatever the options (serve leaves them out too). */
const ALWAYS_HIDDEN = new Set(['.git', '.DS_Store']);

/** The entries of `dir` with their stats (links followed; an entry that cannot be stat'ed is left out). */
export function readListing(dir: string, cb: (err: NodeJS.ErrnoException | null, entries?: ListingEntry[]) => void): void {
  fs.readdir(dir, (err, names) => {
    if (err) return cb(err);
    if (names.length === 0) return cb(null, []);
    const entries: (ListingEntry | null)[] = new Array<ListingEntry | null>(names.length).fill(null);
    let left = names.length;
    names.forEach((name, i) => {
      fs.stat(path.join(dir, name), (statErr, stat) => {
        if (!statErr) entries[i] = { name, directory: stat.isDirectory(), size: stat.size, mtimeMs: stat.mtimeMs };
        if (--left === 0)
          cb(
            null,
            entries.filter((e): e is ListingEntry => e !== null),
          );
      });
    });
  });
}

/** What may show, directories first, then by name. */
export function visibleEntries(entries: readonly ListingEntry[], filter: ListingFilter): ListingEntry[] {
  return entries
    .filter((e) => !ALWAYS_HIDDEN.has(e.name) && (filter.dotfiles || !e.name.startsWith('.')) && !filter.unlisted.some((p) => p.matches(e.name)))
    .sort((a, b) => (a.directory === b.directory ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.directory ? -1 : 1));
}

/** `/a/b` or `/a/b/` → `/a/b/`, each segment percent-encoded. */
function directoryHref(dirPath: string): string {
  const segments = dirPath.split('/').filter(Boolean);
  return segments.length === 0 ? '/' : `/${segments.map(encodeURIComponent).join('/')}/`;
}

function entryHref(dirPath: string, e: ListingEntry): string {
  return `${directoryHref(dirPath)}${encodeURIComponent(e.name)}${e.directory ? '/' : ''}`;
}

/** The breadcrumbs: each ancestor of `dirPath` with its link, root first. */
function crumbs(dirPath: string): { name: string; href: string }[] {
  const segments = dirPath.split('/').filter(Boolean);
  const out = [{ name: '/', href: '/' }];
  segments.forEach((name, i) => out.push({ name: `${name}/`, href: directoryHref(segments.slice(0, i + 1).join('/')) }));
  return out;
}

function parentHref(dirPath: string): string | null {
  const segments = dirPath.split('/').filter(Boolean);
  return segments.length === 0 ? null : directoryHref(segments.slice(0, -1).join('/'));
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function humanSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
}

function modified(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
}

const STYLE = `body{margin:0;padding:24px;font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;background:#fff}
main{max-width:960px}h1{font-size:18px;font-weight:600;margin:0 0 16px;word-break:break-all}
h1 nav{display:inline}h1 a{color:inherit;text-decoration:none}h1 a:hover{text-decoration:underline}
table{width:100%;border-collapse:collapse}th{text-align:left;font-weight:600;color:#555;border-bottom:1px solid #ddd;padding:6px 8px}
td{padding:6px 8px;border-bottom:1px solid #f0f0f0;white-space:nowrap}td.name{white-space:normal;word-break:break-all;width:100%}
td.size,th.size{text-align:right}a{color:#0645ad}tr.dir a{font-weight:600}
@media (prefers-color-scheme:dark){body{background:#111;color:#eee}a{color:#8ab4f8}th{color:#aaa;border-color:#333}td{border-color:#222}}`;

function row(dirPath: string, e: ListingEntry): string {
  const name = escapeHtml(e.directory ? `${e.name}/` : e.name);
  const size = e.directory ? '' : escapeHtml(humanSize(e.size));
  const when = new Date(e.mtimeMs).toISOString();
  return (
    `<tr class="${e.directory ? 'dir' : 'file'}"><td class="name"><a href="${escapeHtml(entryHref(dirPath, e))}">${name}</a></td>` +
    `<td class="size"${e.directory ? '' : ` data-bytes="${e.size}"`}>${size}</td><td><time datetime="${when}">${modified(e.mtimeMs)}</time></td></tr>`
  );
}

/** The HTML page for the directory at URL path `dirPath`. */
export function listingHtml(dirPath: string, entries: readonly ListingEntry[]): string {
  const title = escapeHtml(directoryHref(dirPath) === '/' ? '/' : decodeURIComponent(directoryHref(dirPath)));
  const nav = crumbs(dirPath)
    .map((c) => `<a href="${escapeHtml(c.href)}">${escapeHtml(c.name)}</a>`)
    .join('');
  const parent = parentHref(dirPath);
  const up = parent === null ? '' : `<tr class="up"><td class="name"><a href="${escapeHtml(parent)}">..</a></td><td class="size"></td><td></td></tr>\n`;
  const rows = entries.map((e) => row(dirPath, e)).join('\n');
  return (
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<title>Index of ${title}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n<main>\n<h1>Index of <nav>${nav}</nav></h1>\n` +
    `<table>\n<thead><tr><th>Name</th><th class="size">Size</th><th>Modified</th></tr></thead>\n<tbody>\n${up}${rows}\n</tbody>\n</table>\n</main>\n</body>\n</html>\n`
  );
}

/** The JSON listing, in serve's shape (`files[].base`, `type`, `relative`), with exact bytes and times added. */
export function listingJson(dirPath: string, entries: readonly ListingEntry[]): string {
  const files: object[] = [];
  const parent = parentHref(dirPath);
  if (parent !== null) files.push({ base: '..', name: '..', ext: '', relative: parent, title: parent, type: 'directory' });
  for (const e of entries) {
    const base = e.directory ? `${e.name}/` : e.name;
    const ext = e.directory ? '' : path.extname(e.name).slice(1) || 'txt';
    const common = { base, name: e.name, ext, relative: entryHref(dirPath, e), title: base };
    if (e.directory) files.push({ ...common, type: 'folder', modified: new Date(e.mtimeMs).toISOString() });
    else files.push({ ...common, type: 'file', size: humanSize(e.size), bytes: e.size, modified: new Date(e.mtimeMs).toISOString() });
  }
  const paths = crumbs(dirPath).map((c) => ({ name: c.name, url: c.href }));
  return JSON.stringify({ directory: decodeURIComponent(directoryHref(dirPath)), paths, files });
}
