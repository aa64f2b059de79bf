import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../test/helpers/backend';
import { caffeBgr, normalise, preprocessImages, torchvisionNorm, validatePreprocessSpec, type RawImage } from './preprocess';

beforeAll(async () => {
  await useBackend('wasm');
});

function solid(width: number, height: number, rgb: [number, number, number], channels: 3 | 4 = 3): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < width * height; i++) data.set(channels === 4 ? [...rgb, 255] : rgb, i * channels);
  return { width, height, channels, data };
}

describe('preprocessing', () => {
  it('caffe-bgr reverses channels and subtracts the BGR means on the 0..255 scale', async () => {
    const x = preprocessImages([solid(150, 150, [200, 100, 50])], caffeBgr());
    expect(x.shape).toEqual([1, 150, 150, 3]);
    const px = Array.from((await x.data()).slice(0, 3));
    expect(px[0]).toBeCloseTo(50 - 104.006, 3);
    expect(px[1]).toBeCloseTo(100 - 116.669, 3);
    expect(px[2]).toBeCloseTo(200 - 122.679, 3);
    x.dispose();
  });

  it('torchvision scales to 0..1 and normalises RGB; RGBA input drops alpha', async () => {
    const x = preprocessImages([solid(10, 10, [255, 0, 128], 4)], torchvisionNorm(10));
    const px = Array.from((await x.data()).slice(0, 3));
    expect(px[0]).toBeCloseTo((1 - 0.485) / 0.229, 4);
    expect(px[1]).toBeCloseTo((0 - 0.456) / 0.224, 4);
    expect(px[2]).toBeCloseTo((128 / 255 - 0.406) / 0.225, 4);
    x.dispose();
  });

  it('resize policies on a 150x76 Intel image: stretch fills, pad keeps aspect with zero (mean) bands, center-crop fills', async () => {
    // Left half red, right half blue: where the colours land tells the policy apart.
    const img = solid(150, 76, [255, 0, 0]);
    for (let y = 0; y < 76; y++) for (let x = 75; x < 150; x++) img.data.set([0, 0, 255], (y * 150 + x) * 3);
    const at = async (t: tf.Tensor4D, y: number, x: number) => Array.from((await t.data()).slice((y * 150 + x) * 3, (y * 150 + x) * 3 + 3));
    const stretch = preprocessImages([img], caffeBgr(150, 'stretch'));
    expect((await at(stretch, 0, 10))[2]).toBeCloseTo(255 - 122.679, 0);
    const pad = preprocessImages([img], caffeBgr(150, 'pad'));
    expect((await at(pad, 0, 10)).map((v) => Math.abs(v) < 1e-3)).toEqual([true, true, true]);
    expect((await at(pad, 75, 10))[2]).toBeCloseTo(255 - 122.679, 0);
    const crop = preprocessImages([img], caffeBgr(150, 'center-crop'));
    // Scaled to 296x150 and cropped to the middle 150 columns: the left edge is still red, the right blue.
    expect((await at(crop, 75, 0))[2]).toBeCloseTo(255 - 122.679, 0);
    expect((await at(crop, 75, 149))[0]).toBeCloseTo(255 - 104.006, 0);
    tf.dispose([stretch, pad, crop]);
  });

  it('shrinks a large photo with a box pre-filter and batches mixed sizes', () => {
    const x = preprocessImages([solid(4000, 3000, [10, 20, 30]), solid(150, 113, [1, 2, 3])], caffeBgr());
    expect(x.shape).toEqual([2, 150, 150, 3]);
    x.dispose();
  });

  it('rejects a buffer that does not match its size, and invalid specs', () => {
    expect(() => preprocessImages([{ width: 10, height: 10, channels: 3, data: new Uint8Array(5) }], caffeBgr())).toThrow(/holds 5 bytes/);
    expect(() => validatePreprocessSpec({ ...caffeBgr(), std: [1, 0, 1] })).toThrow(/std/);
    expect(() => validatePreprocessSpec({ ...caffeBgr(), inputSize: [8, 8] })).toThrow(/inputSize/);
    expect(validatePreprocessSpec(torchvisionNorm())).toEqual(torchvisionNorm());
  });
});

describe('preprocessImages at the input size', () => {
  it('gives bit for bit what the tensor path (normalise) gives, for RGBA and RGB, BGR and RGB specs', async () => {
    const specs = [
      { name: 'caffe-bgr', inputSize: [5, 7] as [number, number], channelOrder: 'bgr' as const, scale: 1, mean: [104, 117, 123] as [number, number, number], std: [1, 1, 1] as [number, number, number], resize: 'stretch' as const },
      { name: 'torchvision', inputSize: [5, 7] as [number, number], channelOrder: 'rgb' as const, scale: 1 / 255, mean: [0.485, 0.456, 0.406] as [number, number, number], std: [0.229, 0.224, 0.225] as [number, number, number], resize: 'center-crop' as const },
    ];
    for (const spec of specs) {
      for (const channels of [3, 4] as const) {
        const images = [0, 1].map((k) => ({ width: 7, height: 5, channels, data: Uint8Array.from({ length: 35 * channels }, (_, i) => (i * 37 + k * 101) & 255) }));
        const fast = preprocessImages(images, spec);
        const rgb = images.flatMap((img) => Array.from({ length: 35 }, (_, p) => [img.data[p * channels]!, img.data[p * channels + 1]!, img.data[p * channels + 2]!]).flat());
        const slow = normalise(tf.tensor4d(rgb, [2, 5, 7, 3]), spec);
        expect(fast.shape).toEqual([2, 5, 7, 3]);
        expect(Array.from(await fast.data())).toEqual(Array.from(await slow.data()));
        tf.dispose([fast, slow]);
      }
    }
  });
});

describe('preprocessImages with mirror flags', () => {
  function noise(width: number, height: number, channels: 3 | 4, seed: number): RawImage {
    const data = Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 37 + seed * 101) % 256);
    return { width, height, channels, data };
  }

  it('mirrors the flagged images exactly as tf.reverse along the width does, read right to left at the input size', async () => {
    const spec = caffeBgr(); // 150x150
    const images = [noise(150, 150, 3, 1), noise(150, 150, 4, 2), noise(150, 150, 3, 3)];
    const plain = preprocessImages(images, spec);
    const reversed = tf.reverse(plain, 2);
    const some = preprocessImages(images, spec, [true, false, true]);
    const all = preprocessImages(images, spec, true);
    const [p, r, s, a] = await Promise.all([plain.data(), reversed.data(), some.data(), all.data()]);
    const per = 150 * 150 * 3;
    expect(Array.from(a)).toEqual(Array.from(r));
    expect(Array.from(s.subarray(0, per))).toEqual(Array.from(r.subarray(0, per)));
    expect(Array.from(s.subarray(per, 2 * per))).toEqual(Array.from(p.subarray(per, 2 * per)));
    expect(Array.from(s.subarray(2 * per))).toEqual(Array.from(r.subarray(2 * per)));
    expect(Array.from(await preprocessImages(images, spec, [false, false, false]).data())).toEqual(Array.from(p));
    tf.dispose([plain, reversed, some, all]);
  });

  it('mirrors after resizing when images are not at the input size, and refuses flags of another count', async () => {
    const spec = torchvisionNorm(16);
    const images = [noise(20, 12, 3, 4), noise(16, 16, 3, 5)];
    const plain = preprocessImages(images, spec);
    const some = preprocessImages(images, spec, [false, true]);
    const expected = tf.concat([tf.slice(plain, [0, 0, 0, 0], [1, -1, -1, -1]), tf.reverse(tf.slice(plain, [1, 0, 0, 0], [1, -1, -1, -1]), 2)]);
    expect(Array.from(await some.data())).toEqual(Array.from(await expected.data()));
    expect(() => preprocessImages(images, spec, [true])).toThrow(/1 mirror flags for 2 images/);
    tf.dispose([plain, some, expected]);
  });
});
