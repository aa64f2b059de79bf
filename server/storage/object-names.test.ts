import { describe, expect, it } from 'vitest';
import { HttpError } from '../errors';
import { contentProblem, sniffImageType } from './content';
import { checkListPrefix, checkObjectName, checkReadableName, checkWritableName, checkWrite } from './object-names';

const limits = { maxImageBytes: 1000, maxArtifactBytes: 5000 };

function refusal(fn: () => unknown): { status: number; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof HttpError) return { status: e.statusCode, message: e.message };
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('object names', () => {
  it('accepts ordinary names under the write prefixes', () => {
    expect(checkWritableName('datasets/intel/forest/1.jpg')).toBe('datasets/intel/forest/1.jpg');
    expect(checkWritableName('models/run 1/model.json')).toBe('models/run 1/model.json');
    expect(checkReadableName('seg_train/forest/1.jpg', ['datasets/', 'seg_train/'])).toBe('seg_train/forest/1.jpg');
  });

  it.each([
    ['', /empty/],
    ['datasets/../etc/passwd', /"\." or "\.\."/],
    ['datasets/./a.jpg', /"\." or "\.\."/],
    ['/etc/passwd', /relative/],
    ['C:/x.jpg', /drive letter/],
    ['datasets/a\u0000.jpg', /control characters/],
    ['datasets/a\r\nb.jpg', /control characters/],
    ['datasets\\a.jpg', /backslash/],
    ['datasets//a.jpg', /empty segment/],
    ['datasets/a/', /ends with \//],
    [`datasets/${'a'.repeat(1100)}.jpg`, /longer than 1024 bytes/],
    [`datasets/${'a'.repeat(300)}/b.jpg`, /longer than 255 bytes/],
    ['datasets/cafe\u0301.jpg', /normal form C/],
  ])('refuses %j', (name, message) => {
    const r = refusal(() => checkObjectName(name));
    expect(r.status).toBe(400);
    expect(r.message).toMatch(message);
  });

  it('refuses writes outside datasets/, models/, runs/ and reads outside the readable prefixes', () => {
    expect(refusal(() => checkWritableName('seg_train/x.jpg'))).toMatchObject({ status: 403, message: expect.stringMatching(/datasets\/, models\/, runs\//) });
    expect(refusal(() => checkReadableName('secrets/key.json', ['datasets/']))).toMatchObject({ status: 403 });
    expect(refusal(() => checkListPrefix('', ['datasets/']))).toMatchObject({ status: 400, message: expect.stringMatching(/prefix is required/) });
    expect(refusal(() => checkListPrefix('../', ['datasets/']))).toMatchObject({ status: 400 });
    expect(checkListPrefix('datasets/intel', ['datasets/'])).toBe('datasets/intel');
  });

  it('binds content type to extension, prefix and size', () => {
    expect(checkWrite('datasets/a.JPG', 'image/jpeg', 10, limits)).toEqual({ contentType: 'image/jpeg', size: 10 });
    expect(checkWrite('models/m.zip', 'application/zip', 4000, limits)).toEqual({ contentType: 'application/zip', size: 4000 });
    expect(refusal(() => checkWrite('datasets/a.png', 'image/jpeg', 10, limits))).toMatchObject({ status: 400, message: expect.stringMatching(/\.jpg or \.jpeg/) });
    expect(refusal(() => checkWrite('datasets/m.zip', 'application/zip', 10, limits))).toMatchObject({ status: 415, message: expect.stringMatching(/images and label files only/) });
    // Label files (Vertex AI import files, path,label CSV) sit with the images they label.
    expect(checkWrite('datasets/pool/labels-vertex.csv', 'text/csv', 100, limits)).toEqual({ contentType: 'text/csv', size: 100 });
    expect(checkWrite('datasets/pool/labels-vertex.jsonl', 'application/jsonl', 100, limits)).toEqual({ contentType: 'application/jsonl', size: 100 });
    expect(refusal(() => checkWrite('datasets/pool/labels.txt', 'text/csv', 10, limits))).toMatchObject({ status: 400, message: expect.stringMatching(/\.csv/) });
    expect(refusal(() => checkWrite('models/x.html', 'text/html', 10, limits))).toMatchObject({ status: 415 });
    expect(refusal(() => checkWrite('datasets/a.jpg', 'image/jpeg', 1001, limits))).toMatchObject({ status: 413 });
    expect(refusal(() => checkWrite('datasets/a.jpg', undefined, 10, limits))).toMatchObject({ status: 400, message: expect.stringMatching(/contentType is required/) });
    expect(refusal(() => checkWrite('datasets/a.jpg', 'image/jpeg', undefined, limits))).toMatchObject({ status: 400, message: expect.stringMatching(/size is required/) });
  });
});

describe('magic bytes', () => {
  const bytes = (...b: number[]): Uint8Array => new Uint8Array([...b, ...new Array<number>(16).fill(0)]);
  it('recognises each image type and nothing else', () => {
    expect(sniffImageType(bytes(0xff, 0xd8, 0xff, 0xe0))).toBe('image/jpeg');
    expect(sniffImageType(bytes(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a))).toBe('image/png');
    expect(sniffImageType(new TextEncoder().encode('RIFF\0\0\0\0WEBPVP8 '))).toBe('image/webp');
    expect(sniffImageType(new TextEncoder().encode('GIF89a......'))).toBe('image/gif');
    expect(sniffImageType(bytes(0x42, 0x4d, 1, 2, 3, 4, 0, 0, 0, 0))).toBe('image/bmp');
    expect(sniffImageType(new TextEncoder().encode('BMW is a car, not a bitmap'))).toBeNull();
    expect(sniffImageType(new TextEncoder().encode('<html><script>'))).toBeNull();
  });

  it('checks artifacts by their own signatures', () => {
    const text = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(contentProblem('application/zip', text('PK\u0003\u0004rest'), 10)).toBeNull();
    expect(contentProblem('application/zip', text('not a zip'), 9)).toMatch(/not a zip/);
    expect(contentProblem('application/json', text('  {"a":1}'), 9)).toBeNull();
    expect(contentProblem('application/json', text('<html>'), 6)).toMatch(/JSON/);
    expect(contentProblem('application/octet-stream', new Uint8Array(8), 8)).toBeNull();
    expect(contentProblem('application/octet-stream', new Uint8Array(7), 7)).toMatch(/multiple of 4/);
    expect(contentProblem('image/svg+xml', text('<svg xmlns="http://www.w3.org/2000/svg">'), 40)).toBeNull();
    expect(contentProblem('text/csv', text('training,gs://b/a.jpg,sea\n'), 26)).toBeNull();
    expect(contentProblem('text/csv', new Uint8Array([0x50, 0x4b, 3, 4, 0, 0]), 6)).toMatch(/not text/);
    expect(contentProblem('application/jsonl', text('{"imageGcsUri":"gs://b/a.jpg"}'), 30)).toBeNull();
    expect(contentProblem('application/jsonl', text('[1,2]'), 5)).toMatch(/JSON object/);
    expect(contentProblem('image/png', text('\u00ff\u00d8'), 2)).toMatch(/not an image/);
    expect(contentProblem('image/jpeg', new Uint8Array(0), 0)).toMatch(/empty/);
  });
});
