// The files below a root, for `wildcard: false` (a route per file, made at
// registration, as @fastify/static makes them with glob('**/**')): symbolic
// links followed, dot entries skipped unless asked for, `globIgnore`
// patterns matched on the path relative to the root.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import picomatch from 'picomatch';

export interface WalkOptions {
  /** Include files and directories whose names start with a dot. */
  dot: boolean;
  /** Glob patterns (relative to the root) of files to leave out. */
  ignore: readonly string[] | undefined;
}

/** Relative paths ('/'-separated) of every file below `root`, sorted. */
export async function filesBelow(root: string, opts: WalkOptions): Promise<string[]> {
  const ignored = opts.ignore !== undefined && opts.ignore.length > 0 ? picomatch([...opts.ignore], { dot: true }) : null;
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    // A link back up the tree must not loop.
    const real = await fs.realpath(dir).catch(() => null);
    if (real === null || seen.has(real)) return;
    seen.add(real);
    const names = await fs.readdir(dir);
    for (const name of names.sort()) {
      if (!opts.dot && name.startsWith('.')) continue;
      const full = path.join(dir, name);
      const relative = rel === '' ? name : `${rel}/${name}`;
      const stat = await fs.stat(full).catch(() => null); // a dangling link is no file
      if (stat === null) continue;
      if (stat.isDirectory()) await walk(full, relative);
      else if (ignored === null || !ignored(relative)) out.push(relative);
    }
    seen.delete(real);
  };
  await walk(root, '');
  return out;
}
