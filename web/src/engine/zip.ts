/**
 * Streaming zip reading for dataset import: entry names come from the central directory (a
 * few hundred KB even for 25,000 images, read from the end of the file), and the entries are
 * inflated chunk by chunk with fflate's `Unzip`, so a large zip is never held in memory whole.
 */
import { Unzip, UnzipInflate } from 'fflate';
import type { BinaryFile } from './types';

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;

/** Names of the file entries (folders left out), from the central directory. */
export async function zipEntryNames(zip: BinaryFile): Promise<string[]> {
  const tailSize = Math.min(zip.size, 65_557);
  const tail = new DataView(await zip.slice(zip.size - tailSize).arrayBuffer());
  let eocd = -1;
  for (let i = tail.byteLength - 22; i >= 0; i--) {
    if (tail.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end-of-central-directory record)');
  const cdSize = tail.getUint32(eocd + 12, true);
  const cdOffset = tail.getUint32(eocd + 16, true);
  if (cdOffset === 0xffffffff) throw new Error('zip64 archives (over 4 GiB) are not supported; import the folder instead');
  const cd = new DataView(await zip.slice(cdOffset, cdOffset + cdSize).arrayBuffer());
  const names: string[] = [];
  const decoder = new TextDecoder();
  for (let p = 0; p + 46 <= cd.byteLength && cd.getUint32(p, true) === CENTRAL; ) {
    const nameLen = cd.getUint16(p + 28, true);
    const extraLen = cd.getUint16(p + 30, true);
    const commentLen = cd.getUint16(p + 32, true);
    const name = decoder.decode(new Uint8Array(cd.buffer, cd.byteOffset + p + 46, nameLen));
    if (!name.endsWith('/')) names.push(name);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}

/** Bytes read from the zip per step. */
const CHUNK = 4 * 1024 * 1024;

/**
 * Calls `onEntry` for every file entry as soon as it is inflated, in archive order; awaits
 * `drain` after each chunk so the caller can store a batch before more is read.
 */
export async function streamZip(
  zip: BinaryFile,
  onEntry: (name: string, data: Uint8Array) => void,
  drain: () => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let failure: Error | null = null;
  const unzip = new Unzip((file) => {
    if (file.name.endsWith('/')) return;
    const chunks: Uint8Array[] = [];
    file.ondata = (err, data, final) => {
      if (err) {
        failure = new Error(`${file.name}: ${err.message}`);
        return;
      }
      chunks.push(data);
      if (final) onEntry(file.name, chunks.length === 1 ? chunks[0]! : concat(chunks));
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  for (let off = 0; off < zip.size; off += CHUNK) {
    signal?.throwIfAborted();
    const end = Math.min(zip.size, off + CHUNK);
    unzip.push(new Uint8Array(await zip.slice(off, end).arrayBuffer()), end >= zip.size);
    if (failure) throw failure;
    await drain();
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
