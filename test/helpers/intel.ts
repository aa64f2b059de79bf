import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImageSource } from '../../model/data/source';
import { decodeFile } from '../../node/data';

/** The shared, read-only data beside the repository. */
export const SHARED = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared');
export const INTEL = path.join(SHARED, 'datasets/intel-scenes');
export const PRETRAINED = path.join(SHARED, 'weights/squeezenet1_1-features-imagenet.pth');
export const CLASSES = ['buildings', 'forest', 'glacier', 'mountain', 'sea', 'street'];

if (!existsSync(INTEL)) throw new Error(`shared dataset not found at ${INTEL}`);

/** The first `perClass` files (by numeric id) of each class of a split. */
export function intelFiles(split: 'train' | 'test', perClass: number, classes = CLASSES, offset = 0): Array<{ file: string; label: number }> {
  return classes.flatMap((c, label) =>
    readdirSync(path.join(INTEL, split, c))
      .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
      .slice(offset, offset + perClass)
      .map((f) => ({ file: path.join(INTEL, split, c, f), label })),
  );
}

/** An ImageSource over files, decoded with sharp like the CLI does. */
export function fileSource(files: Array<{ file: string; label: number }>): ImageSource {
  return {
    size: files.length,
    label: (i) => files[i]!.label,
    name: (i) => files[i]!.file,
    load: (i) => decodeFile(files[i]!.file),
  };
}
