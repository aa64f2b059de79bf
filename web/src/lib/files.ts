/**
 * Getting files with their folder paths from the three ways a browser offers: an
 * `<input webkitdirectory>`, `showDirectoryPicker()` (Chromium), and a drag-and-drop of a folder.
 */
import type { ImportFile } from '../engine/types';

/** Files of an `<input type=file webkitdirectory>` (or a plain multiple input: then paths are bare names). */
export function filesFromInput(list: FileList | null): ImportFile[] {
  return Array.from(list ?? [], (file) => ({ path: file.webkitRelativePath || file.name, file }));
}

interface DirectoryHandle {
  kind: 'directory';
  name: string;
  values(): AsyncIterable<DirectoryHandle | { kind: 'file'; name: string; getFile(): Promise<File> }>;
}

export function hasDirectoryPicker(): boolean {
  return typeof (window as unknown as { showDirectoryPicker?: unknown }).showDirectoryPicker === 'function';
}

/** Walks a folder picked with `showDirectoryPicker`, paths prefixed with its name as `webkitdirectory` does. */
export async function filesFromDirectoryPicker(): Promise<ImportFile[]> {
  const pick = (window as unknown as { showDirectoryPicker: (o: { mode: 'read' }) => Promise<DirectoryHandle> }).showDirectoryPicker;
  const root = await pick({ mode: 'read' });
  const out: ImportFile[] = [];
  const walk = async (dir: DirectoryHandle, prefix: string): Promise<void> => {
    for await (const entry of dir.values()) {
      if (entry.kind === 'directory') await walk(entry, `${prefix}${entry.name}/`);
      else out.push({ path: `${prefix}${entry.name}`, file: await entry.getFile() });
    }
  };
  await walk(root, `${root.name}/`);
  return out;
}

function readEntries(reader: FileSystemDirectoryReader): Promise<FileSystemEntry[]> {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
}

function fileOf(entry: FileSystemFileEntry): Promise<File> {
  return new Promise((resolve, reject) => entry.file(resolve, reject));
}

/**
 * Files dropped on the page, folders walked. The entries must be taken from the
 * DataTransfer synchronously, inside the drop handler: Chromium empties it afterwards.
 */
export function entriesFromDrop(dt: DataTransfer): FileSystemEntry[] {
  return Array.from(dt.items)
    .map((item) => item.webkitGetAsEntry())
    .filter((e): e is FileSystemEntry => e !== null);
}

export async function filesFromEntries(entries: FileSystemEntry[]): Promise<ImportFile[]> {
  const out: ImportFile[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      out.push({ path: `${prefix}${entry.name}`, file: await fileOf(entry as FileSystemFileEntry) });
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    // readEntries returns at most 100 entries per call in Chromium: read until empty.
    for (let batch = await readEntries(reader); batch.length > 0; batch = await readEntries(reader)) {
      for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
    }
  };
  for (const e of entries) await walk(e, '');
  return out;
}

export function isZip(file: File): boolean {
  return /\.zip$/i.test(file.name) || file.type === 'application/zip' || file.type === 'application/x-zip-compressed';
}
