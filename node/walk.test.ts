import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { walkFiles } from './walk';

const tmp = mkdtempSync(path.join(tmpdir(), 'scenelab-walk-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Writes `files` (relative paths) under a fresh folder and returns it. */
function tree(name: string, files: string[]): string {
  const root = path.join(tmp, name);
  for (const f of files) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), f);
  }
  return root;
}

describe('walkFiles', () => {
  it('lists files in name order, folder by folder', async () => {
    const root = tree('plain', ['b/2.jpg', 'a/1.jpg', 'a/0.jpg', 'top.txt']);
    expect((await walkFiles(root)).files).toEqual(['a/0.jpg', 'a/1.jpg', 'b/2.jpg', 'top.txt']);
  });

  it('follows symbolic links to files and to folders', async () => {
    const store = tree('store', ['forest/1.jpg', 'forest/2.jpg', 'sea/3.jpg']);
    const root = path.join(tmp, 'linked');
    mkdirSync(path.join(root, 'train', 'forest'), { recursive: true });
    symlinkSync(path.join(store, 'forest', '1.jpg'), path.join(root, 'train', 'forest', 'a.jpg'));
    symlinkSync(path.join(store, 'sea'), path.join(root, 'train', 'sea'));
    const { files, problems } = await walkFiles(root);
    expect(files).toEqual(['train/forest/a.jpg', 'train/sea/3.jpg']);
    expect(problems).toEqual([]);
  });

  it('reports a link that loops back and a broken link instead of following them', async () => {
    const root = tree('loop', ['forest/1.jpg']);
    symlinkSync(root, path.join(root, 'forest', 'again'));
    symlinkSync(path.join(root, 'gone.jpg'), path.join(root, 'forest', 'broken.jpg'));
    const { files, problems } = await walkFiles(root);
    expect(files).toEqual(['forest/1.jpg']);
    expect(problems).toEqual([
      { path: 'forest/again', reason: 'symbolic link loops back to a folder above it; not followed' },
      { path: 'forest/broken.jpg', reason: 'broken symbolic link' },
    ]);
  });

  it('enters only the folders it is asked to', async () => {
    const root = tree('pruned', ['keep/1.jpg', 'skip/2.jpg']);
    expect((await walkFiles(root, { enter: (rel) => rel === 'keep' })).files).toEqual(['keep/1.jpg']);
  });
});
