import type { Dirent } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';

/** A path the walk could not use, and why. */
export interface WalkProblem {
  /** Relative to the root, with `/` separators. */
  path: string;
  reason: string;
}

export interface WalkOptions {
  /** Whether to descend into a folder (relative path, no trailing slash); all by default. */
  enter?: (rel: string) => boolean;
}

/**
 * Every file under `root`, as `/`-separated paths relative to it, in name order folder by
 * folder. Symbolic links are followed, to files and to folders, because a split built from
 * links instead of copies is a common way to lay out a dataset; a link back into a folder the
 * walk is already inside is not followed (it would never end), and it and any broken link are
 * reported instead.
 */
export async function walkFiles(root: string, options: WalkOptions = {}): Promise<{ files: string[]; problems: WalkProblem[] }> {
  const files: string[] = [];
  const problems: WalkProblem[] = [];
  const visit = async (rel: string, ancestors: ReadonlySet<string>): Promise<void> => {
    const dir = path.join(root, ...rel.split('/').filter(Boolean));
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if (rel === '') throw e;
      problems.push({ path: rel, reason: `cannot read folder (${(e as NodeJS.ErrnoException).code ?? 'error'})` });
      return;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        try {
          const st = await stat(path.join(dir, e.name));
          isDir = st.isDirectory();
          isFile = st.isFile();
        } catch {
          problems.push({ path: r, reason: 'broken symbolic link' });
          continue;
        }
      }
      if (isFile) files.push(r);
      else if (isDir && (options.enter?.(r) ?? true)) {
        const real = await realpath(path.join(dir, e.name));
        if (ancestors.has(real)) {
          problems.push({ path: r, reason: 'symbolic link loops back to a folder above it; not followed' });
          continue;
        }
        await visit(r, new Set([...ancestors, real]));
      }
    }
  };
  await visit('', new Set([await realpath(root)]));
  return { files, problems };
}
