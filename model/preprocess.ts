import * as tf from '@tensorflow/tfjs-core';
import { Scratch } from './scratch';

/**
 * How a non-square image is brought to the model's input size.
 * - `stretch`: resize both sides to the input size, ignoring aspect ratio (torchvision
 *   `Resize((h, w))`). The Intel scenes are 150x150 with a few 150xN images; stretching
 *   them keeps the whole scene, which is what the reference pipeline trains on.
 * - `center-crop`: resize so the shorter side fits, then crop the centre (torchvision
 *   `Resize(s)` + `CenterCrop(s)`); loses the edges of wide photos.
 * - `pad`: resize so the longer side fits and pad the rest with the mean colour (which is
 *   zero after normalisation); keeps everything and the aspect ratio.
 */
export type ResizePolicy = 'stretch' | 'center-crop' | 'pad';

/**
 * Everything needed to turn decoded pixels into the tensor a model was trained on.
 * It is data, saved with every model, and applied by this one module everywhere.
 */
export interface PreprocessSpec {
  /** A name for display: `caffe-bgr`, `torchvision`, or a custom one. */
  name: string;
  /** `[height, width]` of the model input. */
  inputSize: [number, number];
  /** Order of the three channels the network expects. */
  channelOrder: 'rgb' | 'bgr';
  /** Multiplier applied to 0..255 pixel values before the mean is subtracted. */
  scale: number;
  /** Per-channel mean, in `channelOrder`, after scaling. */
  mean: [number, number, number];
  /** Per-channel standard deviation, in `channelOrder`, after scaling. */
  std: [number, number, number];
  resize: ResizePolicy;
}

/** The convention of the original Caffe SqueezeNet weights (../shared/weights): BGR, 0..255, mean subtracted. */
export function caffeBgr(size = 150, resize: ResizePolicy = 'stretch'): PreprocessSpec {
  return {
    name: 'caffe-bgr',
    inputSize: [size, size],
    channelOrder: 'bgr',
    scale: 1,
    mean: [104.006, 116.669, 122.679],
    std: [1, 1, 1],
    resize,
  };
}

/** torchvision's ImageNet normalisation, which its own pretrained weights expect. */
export function torchvisionNorm(size = 150, resize: ResizePolicy = 'stretch'): PreprocessSpec {
  return {
    name: 'torchvision',
    inputSize: [size, size],
    channelOrder: 'rgb',
    scale: 1 / 255,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    resize,
  };
}

/** Decoded pixels, row-major, 3 (RGB) or 4 (RGBA, alpha ignored) channels of 0..255. */
export interface RawImage {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array | Uint8ClampedArray;
}

/** Checks a spec read from a file before it is trusted. */
export function validatePreprocessSpec(value: unknown): PreprocessSpec {
  const v = value as Partial<PreprocessSpec> | null;
  const bad = (what: string): never => {
    throw new Error(`invalid preprocessing spec: ${what}`);
  };
  if (!v || typeof v !== 'object') bad('not an object');
  const s = v as Partial<PreprocessSpec>;
  const isTriple = (a: unknown): a is [number, number, number] =>
    Array.isArray(a) && a.length === 3 && a.every((n) => typeof n === 'number' && Number.isFinite(n));
  if (typeof s.name !== 'string') bad('name');
  if (!Array.isArray(s.inputSize) || s.inputSize.length !== 2 || !s.inputSize.every((n) => Number.isInteger(n) && n >= 16 && n <= 1024))
    bad('inputSize must be [height, width] between 16 and 1024');
  if (s.channelOrder !== 'rgb' && s.channelOrder !== 'bgr') bad('channelOrder must be rgb or bgr');
  if (typeof s.scale !== 'number' || !(s.scale > 0)) bad('scale must be a positive number');
  if (!isTriple(s.mean)) bad('mean must be three numbers');
  if (!isTriple(s.std) || s.std.some((n) => n <= 0)) bad('std must be three positive numbers');
  if (s.resize !== 'stretch' && s.resize !== 'center-crop' && s.resize !== 'pad') bad('resize must be stretch, center-crop or pad');
  return s as PreprocessSpec;
}

function checkBuffer(img: RawImage): void {
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new Error(`image buffer holds ${img.data.length} bytes, expected ${img.width}x${img.height}x${img.channels}`);
  }
}

/** Pixels as a float [1, h, w, 3] RGB tensor, alpha dropped: one pass in JS, uint8 to float32 exactly. */
function toRgbTensor(img: RawImage): tf.Tensor4D {
  checkBuffer(img);
  const n = img.width * img.height;
  const rgb = new Float32Array(n * 3);
  const src = img.data;
  const step = img.channels;
  for (let p = 0, i = 0, o = 0; p < n; p++, i += step, o += 3) {
    rgb[o] = src[i]!;
    rgb[o + 1] = src[i + 1]!;
    rgb[o + 2] = src[i + 2]!;
  }
  return tf.tensor4d(rgb, [1, img.height, img.width, 3]);
}

/**
 * A batch of images already at the input size, normalised in one pass: every resize policy is
 * the identity at that size. Each value goes through the same float32 steps as {@link normalise}
 * (scale, subtract the mean, times 1/std), so the result is bit for bit the same, without a
 * tensor and five kernels per image. An image whose `mirror` flag is set is read right to left,
 * which is `tf.reverse` along the width, exactly.
 */
function normaliseAtInputSize(images: readonly RawImage[], spec: PreprocessSpec, out: Float32Array, mirror: readonly boolean[] | null): Float32Array {
  const [h, w] = spec.inputSize;
  const per = h * w * 3;
  const f = Math.fround;
  const scale = f(spec.scale);
  const mean = spec.mean.map(f);
  const invStd = spec.std.map((s) => f(1 / s));
  // Output channel c reads source channel from[c] (BGR reverses RGB).
  const from = spec.channelOrder === 'bgr' ? [2, 1, 0] : [0, 1, 2];
  images.forEach((img, k) => {
    checkBuffer(img);
    const src = img.data;
    const step = img.channels;
    for (let c = 0; c < 3; c++) {
      const m = mean[c]!;
      const s = invStd[c]!;
      if (mirror?.[k]) {
        for (let y = 0; y < h; y++) {
          const o0 = k * per + y * w * 3 + c;
          for (let i = (y * w + w - 1) * step + from[c]!, o = o0; o < o0 + w * 3; i -= step, o += 3) out[o] = f(f(f(src[i]! * scale) - m) * s);
        }
      } else {
        for (let i = from[c]!, o = k * per + c; o < (k + 1) * per; i += step, o += 3) out[o] = f(f(f(src[i]! * scale) - m) * s);
      }
    }
  });
  return out;
}

/** Mirrors the images of a batch whose flag is set: `x·(1-m) + reverse(x)·m`. */
function mirrorSome(x: tf.Tensor4D, flags: readonly boolean[]): tf.Tensor4D {
  if (flags.every(Boolean)) return tf.reverse(x, 2);
  const m = tf.tensor4d(flags.map((f) => (f ? 1 : 0)), [flags.length, 1, 1, 1]);
  return tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(tf.reverse(x, 2), m)) as tf.Tensor4D;
}

/**
 * Bilinear resize with a box pre-filter when shrinking by 2x or more, so a 4000x3000 phone
 * photo does not alias into noise at 150x150 (plain bilinear samples only 4 source pixels).
 */
function resizeTo(x: tf.Tensor4D, h: number, w: number): tf.Tensor4D {
  const [, sh, sw] = x.shape;
  const f = Math.floor(Math.min(sh / h, sw / w));
  const pre = f >= 2 ? tf.avgPool(x, [f, f], [f, f], 'valid') : x;
  if (pre.shape[1] === h && pre.shape[2] === w) return pre;
  return tf.image.resizeBilinear(pre, [h, w], false, true);
}

function fit(x: tf.Tensor4D, spec: PreprocessSpec): tf.Tensor4D {
  const [h, w] = spec.inputSize;
  const [, sh, sw] = x.shape;
  switch (spec.resize) {
    case 'stretch':
      return resizeTo(x, h, w);
    case 'center-crop': {
      const s = Math.max(h / sh, w / sw);
      const rh = Math.max(h, Math.round(sh * s));
      const rw = Math.max(w, Math.round(sw * s));
      const r = resizeTo(x, rh, rw);
      return tf.slice(r, [0, Math.floor((rh - h) / 2), Math.floor((rw - w) / 2), 0], [1, h, w, 3]);
    }
    case 'pad': {
      const s = Math.min(h / sh, w / sw);
      const rh = Math.min(h, Math.max(1, Math.round(sh * s)));
      const rw = Math.min(w, Math.max(1, Math.round(sw * s)));
      const r = resizeTo(x, rh, rw);
      const top = Math.floor((h - rh) / 2);
      const left = Math.floor((w - rw) / 2);
      // Pad with the mean pixel (in 0..255 RGB) so padding normalises to exactly zero.
      const meanRgb = meanAsRgbPixel(spec);
      const padded = tf.stack(
        [0, 1, 2].map((c) =>
          tf.pad(tf.squeeze(tf.slice(r, [0, 0, 0, c], [1, rh, rw, 1]), [0, 3]), [[top, h - rh - top], [left, w - rw - left]], meanRgb[c]),
        ),
        2,
      );
      return tf.expandDims(padded, 0) as tf.Tensor4D;
    }
  }
}

function meanAsRgbPixel(spec: PreprocessSpec): [number, number, number] {
  const m = spec.mean.map((v) => v / spec.scale) as [number, number, number];
  return spec.channelOrder === 'bgr' ? [m[2], m[1], m[0]] : m;
}

const pixelScratch = new Scratch();

/**
 * Turns decoded images into one normalised NHWC batch `[n, h, w, 3]` for a model.
 * Images may differ in size; each is resized by the spec's policy. `mirror` flips images left
 * to right after that: all of them (true) or those whose flag is set; images already at the
 * input size are mirrored as they are read (a whole-batch `tf.reverse` cost a training step 5 %).
 */
export function preprocessImages(images: readonly RawImage[], spec: PreprocessSpec, mirror: boolean | readonly boolean[] = false): tf.Tensor4D {
  if (images.length === 0) throw new Error('preprocessImages needs at least one image');
  if (typeof mirror !== 'boolean' && mirror.length !== images.length) throw new RangeError(`${mirror.length} mirror flags for ${images.length} images`);
  const flags = typeof mirror === 'boolean' ? (mirror ? images.map(() => true) : null) : mirror.some(Boolean) ? mirror : null;
  const [h, w] = spec.inputSize;
  if (atInputSize(images, spec)) return tf.tensor4d(normaliseAtInputSize(images, spec, pixelScratch.take(images.length * h * w * 3), flags), [images.length, h, w, 3]);
  return tf.tidy(() => {
    const fitted = images.map((img) => fit(toRgbTensor(img), spec));
    const batch = normalise(fitted.length === 1 ? fitted[0]! : tf.concat(fitted, 0), spec);
    return flags ? mirrorSome(batch, flags) : batch;
  });
}

function atInputSize(images: readonly RawImage[], spec: PreprocessSpec): boolean {
  const [h, w] = spec.inputSize;
  return images.every((img) => img.width === w && img.height === h);
}

/** Channel order, scale, mean and std on an RGB float batch of 0..255 values. */
export function normalise(rgb: tf.Tensor4D, spec: PreprocessSpec): tf.Tensor4D {
  return tf.tidy(() => {
    const ordered = spec.channelOrder === 'bgr' ? tf.reverse(rgb, 3) : rgb;
    const mean = tf.tensor1d(spec.mean);
    const invStd = tf.tensor1d(spec.std.map((s) => 1 / s));
    return tf.mul(tf.sub(tf.mul(ordered, spec.scale), mean), invStd) as tf.Tensor4D;
  });
}
