/**
 * Label files in and out of a dataset, through model/labels' formats: Vertex AI CSV/JSONL
 * under a gs:// prefix, the plain CSV and the Intel-layout zip. An import with any bad line
 * applies nothing and returns every problem; a clean one is a single undoable step, on the
 * dataset itself or on a new copy of its images. Images imported twice from one path are
 * named `path#id` in files, each of them: the path alone is ambiguous and refused on import.
 */
import { exportLabelFile, importAction, importLabelFile, labelFileFormat, recordsOf, type LabelImport } from '../../../model/labels';
import { uuid, type EngineContext } from './context';
import type { Labels, LoadedLabels } from './labels';
import type { LabelExport, LabelExportRequest, LabelImportRequest, LabelImportResult } from './label-types';
import { countImage, type DatasetRow, type ImageRow } from './store-schema';

const FILE_SUFFIX = { 'vertex-csv': '-vertex.csv', 'vertex-jsonl': '-vertex.jsonl', csv: '-labels.csv', zip: '.zip' } as const;
const MIME = { 'vertex-csv': 'text/csv', 'vertex-jsonl': 'application/jsonl', csv: 'text/csv', zip: 'application/zip' } as const;

/**
 * Images sharing a path: `path#id` as a further name of the one named by its bare path, and
 * the bare path as a name that stands for all of them.
 */
function sharedPathNames(loaded: LoadedLabels): { aliases: Record<string, string>; ambiguous: Record<string, string[]> } {
  const byPath = new Map<string, string[]>();
  for (const [name, path] of loaded.pathOf) byPath.set(path, [...(byPath.get(path) ?? []), name]);
  const aliases: Array<[string, string]> = [];
  const ambiguous: Array<[string, string[]]> = [];
  for (const [path, names] of byPath) {
    if (names.length < 2) continue;
    const distinct = names.map((n) => (n === path ? `${path}#${loaded.idOf.get(n)!}` : n));
    names.forEach((n, k) => n === path && aliases.push([distinct[k]!, n]));
    ambiguous.push([path, distinct]);
  }
  return { aliases: Object.fromEntries(aliases), ambiguous: Object.fromEntries(ambiguous) };
}

/** A file-system-friendly name for a dataset's export. */
const fileStem = (name: string): string => name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'dataset';

export class LabelFiles {
  constructor(
    private readonly ctx: EngineContext,
    private readonly labels: Labels,
    /** Deletes a dataset whole (the copy of a failed import). */
    private readonly removeDataset: (id: string) => Promise<void>,
  ) {}

  async exportLabels(request: LabelExportRequest): Promise<LabelExport> {
    const db = await this.ctx.db();
    const ds = await db.get('datasets', request.datasetId);
    if (!ds) throw new Error(`no dataset ${request.datasetId}`);
    const loaded = await this.labels.load(request.datasetId);
    // A path imported twice is written as path#id for each of its images, as an import reads them back.
    const fileName = new Map(Object.entries(sharedPathNames(loaded).aliases).map(([alias, name]) => [name, alias]));
    const records = recordsOf(loaded.state).map((r) => ({ ...r, uri: fileName.get(r.uri) ?? r.uri }));
    let bytes: Map<string, Uint8Array> | undefined;
    if (request.format === 'zip') {
      // The zip writer asks for bytes synchronously: read the originals first.
      bytes = new Map();
      for (const [name, id] of loaded.idOf) {
        const row = await db.get('images', id);
        if (row) bytes.set(fileName.get(name) ?? name, new Uint8Array(await row.original.arrayBuffer()));
      }
    }
    const out = exportLabelFile(request.format, records, {
      ...(request.gcsPrefix !== undefined && { gcsPrefix: request.gcsPrefix }),
      ...(request.labelNames && { labelNames: new Map(Object.entries(request.labelNames)) }),
      ...(bytes && { bytes: (image: string) => bytes.get(image) }),
    });
    const data = typeof out === 'string' ? new TextEncoder().encode(out) : out;
    return { fileName: fileStem(ds.name) + FILE_SUFFIX[request.format], mime: MIME[request.format], data, images: records.length };
  }

  async importLabels(request: LabelImportRequest): Promise<LabelImportResult> {
    const refused = (reason: string): LabelImportResult => ({ applied: false, problems: [{ source: request.fileName, line: 0, reason }], summary: null, changed: 0, newClasses: [] });
    const db = await this.ctx.db();
    const source = await db.get('datasets', request.datasetId);
    if (!source) throw new Error(`no dataset ${request.datasetId}`);
    if (request.into === 'copy' && request.newName !== undefined && request.newName.trim() === '') return refused('the new dataset needs a name');
    const bytes = new Uint8Array(await request.file.arrayBuffer());
    const firstLine = new TextDecoder().decode(bytes.subarray(0, 4096)).split(/\r?\n/)[0] ?? '';
    const format = labelFileFormat(request.fileName, firstLine);
    if (format === null) return refused('not a label file: expected .csv (Vertex AI or path,label[,split]), .jsonl or .zip');
    const loaded = await this.labels.load(request.datasetId);
    const { state } = loaded;
    let result: LabelImport;
    try {
      result = importLabelFile(format, request.fileName, format === 'zip' ? bytes : new TextDecoder().decode(bytes), {
        images: Object.keys(state.images),
        ...sharedPathNames(loaded),
        classes: state.classes,
        ...(request.gcsPrefix && { gcsPrefix: request.gcsPrefix }),
        ...(request.rename && { rename: request.rename }),
      });
    } catch (e) {
      return refused((e as Error).message);
    }
    if (result.problems.length > 0) return { applied: false, problems: result.problems, summary: null, changed: 0, newClasses: result.newClasses };
    if (result.labels.length === 0) return refused('the file lists no images');
    const target = request.into === 'copy' ? await this.copyImages(source, request.newName ?? `${source.name} (${request.fileName})`, state.classes) : source.id;
    try {
      const { summary, changed } = await this.labels.apply(target, importAction(result, 'person', Date.now()));
      return { applied: true, problems: [], summary, changed, newClasses: result.newClasses };
    } catch (e) {
      if (target !== source.id) await this.removeCopy(target);
      throw e;
    }
  }

  /** A new dataset holding the same images (same paths and splits), unlabelled, with the same class list. */
  private async copyImages(source: DatasetRow, name: string, classes: string[]): Promise<string> {
    const db = await this.ctx.db();
    const ds: DatasetRow = { id: uuid(), name, createdAt: Date.now(), status: 'ready', imageCount: 0, unlabelled: 0, counts: {}, problems: [] };
    const keys = await db.getAllKeysFromIndex('images', 'byDataset', source.id);
    await this.ctx.write('the copied dataset', async () => {
      const tx = db.transaction(['images', 'datasets', 'labels'], 'readwrite');
      for (const key of keys) {
        const row = await tx.objectStore('images').get(key);
        if (!row) continue;
        const { id: _id, ...rest } = row;
        const copy: ImageRow = { ...rest, datasetId: ds.id, label: '', provenance: null };
        void tx.objectStore('images').add(copy);
        countImage(ds, '', copy.split);
      }
      void tx.objectStore('datasets').put(ds);
      void tx.objectStore('labels').put({ datasetId: ds.id, classes: [...classes] });
      await tx.done;
    });
    return ds.id;
  }

  private async removeCopy(id: string): Promise<void> {
    await this.removeDataset(id);
    this.labels.forget(id);
  }
}
