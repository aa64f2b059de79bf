/**
 * Decoding in the browser (page or worker): `createImageBitmap` + `OffscreenCanvas` to RGBA
 * pixels, and the model-size copy made at import time.
 */
import type { BinaryFile, ImageInput, TransferableImage } from './types';
import { ImageDecodeError } from '../../../model/data/source';
import type { RawImage } from '../../../model/preprocess';

/** Longest side kept when an image is decoded for the model: several times any input size, far below a phone photo. */
export const DECODE_MAX_SIDE = 1024;
/** Longest side of the copy stored beside each imported original; originals at most this big are used as they are. */
export const MODEL_COPY_MAX_SIDE = 256;

export function isTransferableImage(v: unknown): v is TransferableImage & ImageBitmap {
  return typeof ImageBitmap !== 'undefined' && v instanceof ImageBitmap;
}

export function isRawImage(v: unknown): v is RawImage {
  return typeof v === 'object' && v !== null && 'data' in v && 'channels' in v && 'width' in v;
}

/** Scale that brings the longer side down to `maxSide` (never up). */
function fitScale(width: number, height: number, maxSide: number): number {
  return Math.min(1, maxSide / Math.max(width, height));
}

async function bitmapOf(input: BinaryFile | ImageBitmap, name: string, maxSide: number): Promise<ImageBitmap> {
  if (isTransferableImage(input)) return input;
  let probe: ImageBitmap;
  try {
    // `from-image` applies EXIF orientation so phone photos come out upright.
    probe = await createImageBitmap(input as Blob, { imageOrientation: 'from-image' });
  } catch {
    throw new ImageDecodeError(name, 'cannot decode image (corrupt, or not a JPEG, PNG, WebP, GIF or BMP)');
  }
  const s = fitScale(probe.width, probe.height, maxSide);
  if (s === 1) return probe;
  const w = Math.max(1, Math.round(probe.width * s));
  const h = Math.max(1, Math.round(probe.height * s));
  // A second decode with resize* lets the browser downscale with a proper filter instead of
  // drawing a 12-megapixel bitmap onto a canvas.
  try {
    return await createImageBitmap(probe, { resizeWidth: w, resizeHeight: h, resizeQuality: 'high' });
  } finally {
    probe.close();
  }
}

/** RGBA pixels of a bitmap; closes it. */
function pixelsOf(bitmap: ImageBitmap): RawImage {
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('no 2d context on OffscreenCanvas');
    ctx.drawImage(bitmap, 0, 0);
    const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    return { width: bitmap.width, height: bitmap.height, channels: 4, data };
  } finally {
    bitmap.close();
  }
}

/** Any image input as pixels, its long side at most `maxSide`. Rejects with `ImageDecodeError`. */
export async function decodeImage(input: ImageInput, name: string, maxSide = DECODE_MAX_SIDE): Promise<RawImage> {
  if (isRawImage(input)) return input;
  return pixelsOf(await bitmapOf(input as BinaryFile | ImageBitmap, name, maxSide));
}

/**
 * Checks that an imported file decodes and makes its model-size copy: null when the original
 * is small already (Intel scenes are 150x150), else a JPEG whose long side is `MODEL_COPY_MAX_SIDE`.
 */
export async function modelCopy(file: BinaryFile, name: string): Promise<{ copy: Blob | null; width: number; height: number }> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file as Blob, { imageOrientation: 'from-image' });
  } catch {
    throw new ImageDecodeError(name, 'cannot decode image (corrupt, or not a JPEG, PNG, WebP, GIF or BMP)');
  }
  const { width, height } = bitmap;
  const s = fitScale(width, height, MODEL_COPY_MAX_SIDE);
  if (s === 1) {
    bitmap.close();
    return { copy: null, width, height };
  }
  const w = Math.max(1, Math.round(width * s));
  const h = Math.max(1, Math.round(height * s));
  try {
    const small = await createImageBitmap(bitmap, { resizeWidth: w, resizeHeight: h, resizeQuality: 'high' });
    const canvas = new OffscreenCanvas(w, h);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('no 2d context on OffscreenCanvas');
    ctx.drawImage(small, 0, 0);
    small.close();
    return { copy: await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.92 }), width, height };
  } finally {
    bitmap.close();
  }
}
