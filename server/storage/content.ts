/** Image types the app stores and the predictor accepts, by MIME type. */
export const IMAGE_TYPES = {
  'image/jpeg': ['.jpg', '.jpeg'],
  'image/png': ['.png'],
  'image/webp': ['.webp'],
  'image/gif': ['.gif'],
  'image/bmp': ['.bmp'],
} as const;

/** Model and run artifacts: bundles, `model.json`/metrics/history, `weights.bin`, `curves.svg`. */
export const ARTIFACT_TYPES = {
  'application/zip': ['.zip', '.pth'],
  'application/json': ['.json'],
  'application/octet-stream': ['.bin'],
  'image/svg+xml': ['.svg'],
  // Label files (Vertex AI import files, path,label CSV), stored beside a dataset's images.
  'text/csv': ['.csv'],
  'application/jsonl': ['.jsonl'],
} as const;

/** Artifact types that may sit under `datasets/` with the images they label. */
export const LABEL_FILE_TYPES: readonly string[] = ['text/csv', 'application/jsonl'];

export type ImageType = keyof typeof IMAGE_TYPES;
export type ArtifactType = keyof typeof ARTIFACT_TYPES;
export type StoredType = ImageType | ArtifactType;

/** Bytes to read from an object's start to check its type. */
export const SNIFF_BYTES = 64;

export function isImageType(t: string): t is ImageType {
  return Object.hasOwn(IMAGE_TYPES, t);
}

export function isArtifactType(t: string): t is ArtifactType {
  return Object.hasOwn(ARTIFACT_TYPES, t);
}

/** Extensions a stored type may carry. */
export function extensionsOf(t: StoredType): readonly string[] {
  return isImageType(t) ? IMAGE_TYPES[t] : ARTIFACT_TYPES[t];
}

/** The type an object name's extension implies, if it is one this server stores. */
export function typeForName(name: string): StoredType | undefined {
  const ext = /\.[A-Za-z0-9]+$/.exec(name)?.[0]?.toLowerCase();
  if (!ext) return undefined;
  for (const [t, exts] of [...Object.entries(IMAGE_TYPES), ...Object.entries(ARTIFACT_TYPES)]) {
    if ((exts as readonly string[]).includes(ext)) return t as StoredType;
  }
  return undefined;
}

const startsWith = (b: Uint8Array, sig: readonly number[], at = 0): boolean => b.length >= at + sig.length && sig.every((v, i) => b[at + i] === v);
const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

/** The image type the first bytes announce (magic numbers), or `null`. */
export function sniffImageType(head: Uint8Array): ImageType | null {
  if (startsWith(head, [0xff, 0xd8, 0xff])) return 'image/jpeg';
  if (startsWith(head, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png';
  if (startsWith(head, ascii('RIFF')) && startsWith(head, ascii('WEBP'), 8)) return 'image/webp';
  if (startsWith(head, ascii('GIF87a')) || startsWith(head, ascii('GIF89a'))) return 'image/gif';
  // "BM", then a 32-bit file size, two reserved 16-bit zeros; checking the zeros avoids
  // taking any text that starts with "BM" for a bitmap.
  if (startsWith(head, ascii('BM')) && head.length >= 10 && head[6] === 0 && head[7] === 0 && head[8] === 0 && head[9] === 0) return 'image/bmp';
  return null;
}

function firstNonSpace(head: Uint8Array): number {
  let i = startsWith(head, [0xef, 0xbb, 0xbf]) ? 3 : 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0a || head[i] === 0x0d)) i++;
  return i;
}

/**
 * Checks an object's first bytes (and total size) against the type it was declared as.
 * Returns `null` when they agree, else a sentence saying what is wrong.
 */
export function contentProblem(declared: StoredType, head: Uint8Array, size: number): string | null {
  if (size === 0) return 'the object is empty';
  if (isImageType(declared)) {
    const found = sniffImageType(head);
    if (found === declared) return null;
    return found ? `declared ${declared} but the bytes are ${found}` : `declared ${declared} but the bytes are not an image (JPEG, PNG, WebP, GIF or BMP)`;
  }
  switch (declared) {
    case 'application/zip':
      return startsWith(head, [0x50, 0x4b, 0x03, 0x04]) || startsWith(head, [0x50, 0x4b, 0x05, 0x06]) ? null : 'declared application/zip but the bytes are not a zip archive';
    case 'application/json': {
      const c = head[firstNonSpace(head)];
      return c === 0x7b || c === 0x5b ? null : 'declared application/json but the bytes do not start a JSON object or array';
    }
    case 'application/octet-stream':
      // weights.bin: float32 values, so a whole number of 4-byte words.
      return size % 4 === 0 ? null : `a weights file holds float32 values, but ${size} bytes is not a multiple of 4`;
    case 'image/svg+xml': {
      const i = firstNonSpace(head);
      const text = new TextDecoder().decode(head.subarray(i, i + 5));
      return text === '<?xml' || text.startsWith('<svg') ? null : 'declared image/svg+xml but the bytes do not start an SVG document';
    }
    case 'text/csv':
      // Text: no NUL bytes (a binary file renamed .csv).
      return head.includes(0) ? 'declared text/csv but the bytes are not text' : null;
    case 'application/jsonl':
      return head[firstNonSpace(head)] === 0x7b ? null : 'declared application/jsonl but the bytes do not start a JSON object';
    default: {
      const unreachable: never = declared;
      return `unsupported type ${String(unreachable)}`;
    }
  }
}
