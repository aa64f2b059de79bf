import { WRITE_PREFIXES } from '../config';
import { HttpError } from '../errors';
import { extensionsOf, isArtifactType, isImageType, LABEL_FILE_TYPES, type StoredType } from './content';

/** Cloud Storage's limit on object names, in UTF-8 bytes. */
export const MAX_OBJECT_NAME_BYTES = 1024;
/** A path segment becomes a file or folder name in the embedded bucket; most file systems stop at 255 bytes. */
export const MAX_SEGMENT_BYTES = 255;

const bad = (message: string): HttpError => new HttpError(400, 'invalid_object_name', message);
const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * Checks the shape of an object name, whatever the prefix: relative, `/`-separated, no empty,
 * `.` or `..` segments, no control characters (NUL, CR, LF…) or backslashes, and within
 * Cloud Storage's and the file system's length limits. Returns the name unchanged.
 */
export function checkObjectName(name: string): string {
  if (name.length === 0) throw bad('object name is empty');
  if (utf8Length(name) > MAX_OBJECT_NAME_BYTES) throw bad(`object name is longer than ${MAX_OBJECT_NAME_BYTES} bytes`);
  if (/[\u0000-\u001f\u007f]/.test(name)) throw bad('object name contains control characters (NUL, CR, LF or similar)');
  if (name.includes('\\')) throw bad('object name contains a backslash; use / between folders');
  if (name.startsWith('/')) throw bad('object name must be relative (no leading /)');
  if (/^[A-Za-z]:/.test(name)) throw bad('object name must be relative (no drive letter)');
  if (name.endsWith('/')) throw bad('object name ends with /: name a file, not a folder');
  for (const segment of name.split('/')) {
    if (segment === '') throw bad('object name has an empty segment (//)');
    if (segment === '.' || segment === '..') throw bad('object name contains a "." or ".." segment');
    if (utf8Length(segment) > MAX_SEGMENT_BYTES) throw bad(`a segment of the object name is longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
  if (name.normalize('NFC') !== name) throw bad('object name must be in Unicode normal form C');
  return name;
}

/** A name the app may write: a valid name under `datasets/`, `models/` or `runs/`. */
export function checkWritableName(name: string): string {
  checkObjectName(name);
  if (!WRITE_PREFIXES.some((p) => name.startsWith(p))) throw new HttpError(403, 'prefix_not_allowed', `objects can only be written under ${WRITE_PREFIXES.join(', ')}`);
  return name;
}

/** A name the app may read: a valid name under one of the readable prefixes. */
export function checkReadableName(name: string, readPrefixes: readonly string[]): string {
  checkObjectName(name);
  if (!readPrefixes.some((p) => name.startsWith(p))) throw new HttpError(403, 'prefix_not_allowed', `objects can only be read under ${readPrefixes.join(', ')}`);
  return name;
}

/** A listing prefix: a readable prefix itself or a longer string under one. */
export function checkListPrefix(prefix: string, readPrefixes: readonly string[]): string {
  if (prefix === '') throw bad(`prefix is required: one of ${readPrefixes.join(', ')} or a folder under them`);
  // A prefix may end with "/" (a folder) or part-way through a name; check it as a name with
  // the trailing slash removed, so the same traversal rules apply.
  checkObjectName(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  if (!readPrefixes.some((p) => prefix.startsWith(p))) throw new HttpError(403, 'prefix_not_allowed', `prefix must start with one of ${readPrefixes.join(', ')}`);
  return prefix;
}

/** Upload size limits by kind of content. */
export interface UploadLimits {
  maxImageBytes: number;
  maxArtifactBytes: number;
}

/**
 * What a write may store: the declared type must be an image (anywhere), a label file (CSV,
 * JSON Lines; anywhere) or a model artifact (under `models/` and `runs/`), must match the name's extension, and the size must be within
 * the limit for its kind. Returns the normalised content type.
 */
export function checkWrite(name: string, contentType: string | undefined, size: number | undefined, limits: UploadLimits): { contentType: StoredType; size: number } {
  if (contentType === undefined) throw new HttpError(400, 'content_type_required', 'contentType is required for op "write" (e.g. image/jpeg, application/zip)');
  if (size === undefined) throw new HttpError(400, 'size_required', 'size is required for op "write": the exact byte length of the file');
  const type = contentType.trim().toLowerCase();
  const image = isImageType(type);
  if (!image && !isArtifactType(type)) {
    throw new HttpError(415, 'unsupported_type', `contentType "${contentType}" is not accepted: only images (JPEG, PNG, WebP, GIF, BMP), model artifacts (zip, json, bin, svg) and label files (csv, jsonl)`);
  }
  if (!image && !LABEL_FILE_TYPES.includes(type) && name.startsWith('datasets/')) throw new HttpError(415, 'unsupported_type', `datasets/ holds images and label files only; ${type} belongs under models/ or runs/`);
  const ext = /\.[^./]+$/.exec(name)?.[0]?.toLowerCase();
  const allowed = extensionsOf(type);
  if (!ext || !allowed.includes(ext)) throw new HttpError(400, 'extension_mismatch', `contentType ${type} needs a name ending in ${allowed.join(' or ')}`);
  const limit = image ? limits.maxImageBytes : limits.maxArtifactBytes;
  if (size > limit) throw new HttpError(413, 'too_large', `size ${size} exceeds the ${image ? 'image' : 'artifact'} limit of ${limit} bytes`);
  return { contentType: type, size };
}
