/**
 * The cloud trainer as Vertex AI takes it: a Python source distribution (`.tar.gz` with
 * `setup.py` and the `trainer` package) that the prebuilt PyTorch container pip-installs, or the
 * plain `trainer/` folder for a dry run that runs it locally with `python -m trainer.task`.
 */
import { copyFile, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Where the trainer's sources live in this repository. */
export const TRAINER_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../cloud');
export const TRAINER_NAME = 'scenelab-trainer';
export const TRAINER_VERSION = '0.1.0';

/** The trainer's files: `setup.py` and `trainer/**.py`, relative to {@link TRAINER_ROOT}. */
async function trainerFiles(root = TRAINER_ROOT): Promise<string[]> {
  const out = ['setup.py'];
  const walk = async (rel: string): Promise<void> => {
    for (const e of (await readdir(path.join(root, rel), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory() && e.name !== '__pycache__' && e.name !== 'tests') await walk(r);
      else if (e.isFile() && e.name.endsWith('.py')) out.push(r);
    }
  };
  await walk('trainer');
  return out;
}

/** One ustar header block (POSIX.1-1988), enough for regular files with short names. */
function tarHeader(name: string, size: number, mtime: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`path too long for a tar header: ${name}`);
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number): void => void h.write(s, at, len, 'utf8');
  const octal = (n: number, len: number): string => n.toString(8).padStart(len - 1, '0') + '\0';
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(mtime, 12), 136, 12);
  put('        ', 148, 8); // checksum counted as spaces
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(octal(sum, 7) + ' ', 148, 8);
  return h;
}

/** The trainer as `scenelab-trainer-0.1.0.tar.gz`, laid out as `python setup.py sdist` lays it out. */
export async function trainerSdist(root = TRAINER_ROOT): Promise<{ name: string; bytes: Uint8Array }> {
  const base = `${TRAINER_NAME}-${TRAINER_VERSION}`;
  const parts: Buffer[] = [];
  const mtime = 1_700_000_000; // fixed: the same sources give the same archive
  const add = (name: string, data: Buffer): void => {
    parts.push(tarHeader(`${base}/${name}`, data.length, mtime), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  };
  for (const f of await trainerFiles(root)) add(f, await readFile(path.join(root, f)));
  add('PKG-INFO', Buffer.from(`Metadata-Version: 2.1\nName: ${TRAINER_NAME}\nVersion: ${TRAINER_VERSION}\nSummary: SceneLab's trainer for Vertex AI custom training\n`));
  parts.push(Buffer.alloc(1024));
  return { name: `${base}.tar.gz`, bytes: new Uint8Array(gzipSync(Buffer.concat(parts), { level: 9 })) };
}

/** Copies the `trainer/` package (and `setup.py`) into `dir`, for `cd dir && python -m trainer.task`. */
export async function copyTrainer(dir: string, root = TRAINER_ROOT): Promise<void> {
  await stat(path.join(root, 'trainer', 'task.py'));
  for (const f of await trainerFiles(root)) {
    await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
    await copyFile(path.join(root, f), path.join(dir, f));
  }
}
