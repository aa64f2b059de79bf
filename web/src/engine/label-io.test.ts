import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { INTEL, PTH, intelFiles, nodeEngine } from './test-support';
import type { LocalEngine } from './local-engine';
import type { LabelFileFormat } from '../../../model/labels';
import { caffeBgr } from '../../../model/preprocess';
import { DEFAULT_TRAIN_OPTIONS } from '../../../model/train';

if (!existsSync(INTEL) || !existsSync(PTH)) throw new Error(`shared data not found (${INTEL}, ${PTH})`);

async function dataset(engine: LocalEngine): Promise<string> {
  return (await engine.importDataset({ name: 'scenes small', source: { kind: 'files', files: intelFiles(['forest', 'sea'], 3, 1) } })).dataset.id;
}

const labelsOf = async (engine: LocalEngine, id: string): Promise<Record<string, string | null>> =>
  Object.fromEntries((await engine.labelEntries(id)).map((e) => [e.path, e.label]));
const text = (data: Uint8Array): string => new TextDecoder().decode(data);

describe('label files in and out of the engine', () => {
  beforeAll(async () => {
    await nodeEngine().engine.init('wasm');
  });

  it('exports Vertex AI CSV and JSONL under a prefix, plain CSV and a zip, and imports each into a copy with the same labels', async () => {
    const { engine } = nodeEngine();
    const id = await dataset(engine);
    const csv = await engine.exportLabels({ datasetId: id, format: 'vertex-csv', gcsPrefix: 'gs://my-bucket/scenes' });
    expect(csv.fileName).toBe('scenes-small-vertex.csv');
    expect(text(csv.data).split('\n')).toContain('training,gs://my-bucket/scenes/train/forest/' + (await engine.labelEntries(id))[0]!.path.split('/').pop() + ',forest');
    const jsonl = await engine.exportLabels({ datasetId: id, format: 'vertex-jsonl', gcsPrefix: 'gs://my-bucket/scenes/' });
    const first = JSON.parse(text(jsonl.data).split('\n')[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ classificationAnnotation: { displayName: 'forest' }, dataItemResourceLabels: { 'aiplatform.googleapis.com/ml_use': 'training' } });
    expect(String(first['imageGcsUri'])).toMatch(/^gs:\/\/my-bucket\/scenes\/train\/forest\//);

    const want = await labelsOf(engine, id);
    const exports: Array<[LabelFileFormat, string]> = [['vertex-csv', 'a.csv'], ['vertex-jsonl', 'a.jsonl'], ['csv', 'a.csv'], ['zip', 'a.zip']];
    for (const [format, name] of exports) {
      const out = await engine.exportLabels({ datasetId: id, format, gcsPrefix: 'gs://my-bucket/scenes' });
      const r = await engine.importLabels({ datasetId: id, fileName: name, file: new Blob([out.data as Uint8Array<ArrayBuffer>]), into: 'copy', newName: `from ${format}` });
      expect(r.problems, format).toEqual([]);
      expect(r.applied).toBe(true);
      expect(r.changed).toBe(8);
      expect(await labelsOf(engine, r.summary!.datasetId), format).toEqual(want);
      // One import is one undoable step, provenance "person".
      expect(r.summary!.undo).toMatchObject({ action: 'apply', images: 8 });
      expect((await engine.labelEntries(r.summary!.datasetId)).every((e) => e.source === 'person')).toBe(true);
    }
    expect((await engine.listDatasets()).map((d) => d.name).sort()).toEqual(['from csv', 'from vertex-csv', 'from vertex-jsonl', 'from zip', 'scenes small']);
  });

  it('a file with bad lines changes nothing and names every line', async () => {
    const { engine } = nodeEngine();
    const id = await dataset(engine);
    const before = await engine.labelSummary(id);
    const path = (await engine.labelEntries(id))[0]!.path;
    const bad = `training,gs://b/x/${path},sea\nsomething,gs://b/x/${path},sea\ntraining,gs://b/x/missing.jpg,sea\ntraining,gs://b/x/${path},sea view!\n`;
    const r = await engine.importLabels({ datasetId: id, fileName: 'bad.csv', file: new Blob([bad]), into: 'existing' });
    expect(r.applied).toBe(false);
    expect(r.problems.map((p) => p.source)).toEqual(['bad.csv:2', 'bad.csv:3', 'bad.csv:4']);
    expect(r.problems[0]!.reason).toMatch(/ml_use/);
    expect(r.problems[1]!.reason).toMatch(/no image named/);
    expect(await engine.labelSummary(id)).toEqual(before);
    expect((await engine.listDatasets()).length).toBe(1);
    const notZip = await engine.importLabels({ datasetId: id, fileName: 'x.zip', file: new Blob(['nope']), into: 'copy' });
    expect(notZip).toMatchObject({ applied: false, problems: [{ source: 'x.zip', reason: expect.stringMatching(/not a readable zip/) }] });
    const unknown = await engine.importLabels({ datasetId: id, fileName: 'labels.txt', file: new Blob(['a,b']), into: 'existing' });
    expect(unknown.problems[0]!.reason).toMatch(/not a label file/);
    expect((await engine.listDatasets()).length).toBe(1);
  });

  it('names images imported twice from one path as path#id, refusing the bare path as ambiguous and an image listed twice, changing nothing', async () => {
    const { engine } = nodeEngine();
    const id = await dataset(engine);
    // The same files again into the same dataset: every path now names two images.
    await engine.importDataset({ datasetId: id, name: 'scenes small', source: { kind: 'files', files: intelFiles(['forest', 'sea'], 3, 1) } });
    const entries = await engine.labelEntries(id);
    const [a, b] = entries.filter((e) => e.path === entries[0]!.path);
    expect(b).toBeDefined();
    const before = await engine.labelSummary(id);
    const tryCsv = (lines: string[]) => engine.importLabels({ datasetId: id, fileName: 'l.csv', file: new Blob([['path,label', ...lines].join('\n')]), into: 'existing' });

    const bare = await tryCsv([`${a!.path},sea`]);
    expect(bare.applied).toBe(false);
    expect(bare.problems).toEqual([{ source: 'l.csv:2', line: 2, reason: `"${a!.path}" could be any of 2 images imported from the same path: name one as "${a!.path}#${a!.id}" or "${a!.path}#${b!.id}"` }]);
    // A longer path that ends in it is just as ambiguous.
    expect((await tryCsv([`/home/me/${a!.path},sea`])).problems[0]!.reason).toMatch(/could be any of 2 images/);
    const twice = await tryCsv([`${a!.path}#${a!.id},sea`, `${a!.path}#${a!.id},forest`]);
    expect(twice.problems).toEqual([{ source: 'l.csv:3', line: 3, reason: `image "${a!.path}" is already listed on line 2` }]);
    expect(await engine.labelSummary(id)).toEqual(before);

    // Each image named apart: applied.
    const apart = await tryCsv([`${a!.path}#${a!.id},sea`, `${a!.path}#${b!.id},forest`]);
    expect(apart.problems).toEqual([]);
    const labels = new Map((await engine.labelEntries(id)).map((e) => [e.id, e.label]));
    expect([labels.get(a!.id), labels.get(b!.id)]).toEqual(['sea', 'forest']);
    // An export names them the same way, and reads back into the dataset.
    const out = text((await engine.exportLabels({ datasetId: id, format: 'csv' })).data);
    expect(out).toContain(`${a!.path}#${a!.id},sea,`);
    expect(out).toContain(`${a!.path}#${b!.id},forest,`);
    const back = await engine.importLabels({ datasetId: id, fileName: 'back.csv', file: new Blob([out]), into: 'existing' });
    expect(back.problems).toEqual([]);
    expect(back.applied).toBe(true);
  });

  it('refuses a Vertex AI export with invalid class names, and writes them under an offered mapping', async () => {
    const { engine } = nodeEngine();
    const id = await dataset(engine);
    await engine.editClasses({ op: 'rename', datasetId: id, from: 'sea', to: 'sea view' });
    await expect(engine.exportLabels({ datasetId: id, format: 'vertex-csv', gcsPrefix: 'gs://bkt/p' })).rejects.toThrow(/"sea view" → "sea_view"/);
    await expect(engine.exportLabels({ datasetId: id, format: 'vertex-csv', gcsPrefix: 'not-a-bucket' })).rejects.toThrow(/gs:\/\/bucket\/prefix/);
    const out = await engine.exportLabels({ datasetId: id, format: 'vertex-csv', gcsPrefix: 'gs://bkt/p', labelNames: { 'sea view': 'sea_view' } });
    expect(text(out.data)).toContain(',sea_view\n');
    // Read back with the inverse mapping: the dataset's own class names.
    const r = await engine.importLabels({ datasetId: id, fileName: 'v.csv', file: new Blob([out.data as Uint8Array<ArrayBuffer>]), into: 'copy', gcsPrefix: 'gs://bkt/p', rename: { sea_view: 'sea view' } });
    expect(r.applied).toBe(true);
    expect(r.summary!.counts['sea view']).toEqual({ train: 3, validation: 0, test: 1, unassigned: 0 });
  });

  it('predicts class probabilities of the unlabelled images for the uncertainty queue', async () => {
    const { engine } = nodeEngine();
    const files = intelFiles(['forest', 'sea'], 6, 0);
    const id = (await engine.importDataset({ name: 'p', source: { kind: 'files', files } })).dataset.id;
    const w = await engine.importWeights('w.pth', new Blob([readFileSync(PTH)]));
    const run = await engine.train({ datasetId: id, weightsId: w.id, arch: 'squeezenet1_1', preprocessing: caffeBgr(64), valSplit: 0, options: { ...DEFAULT_TRAIN_OPTIONS, freeze: true, epochs: 2, batchSize: 4, hflip: false } });
    const some = (await engine.labelEntries(id)).slice(0, 3).map((e) => e.id);
    await engine.labelImages({ datasetId: id, images: some, label: null, source: 'person' });
    const done: number[] = [];
    const p = await engine.predictLabels({ datasetId: id, modelId: run.model!.id, which: 'unlabelled' }, { onProgress: (e) => done.push(e.done) });
    expect(p.labels).toEqual(['forest', 'sea']);
    expect([...p.ids].sort()).toEqual([...some].sort());
    expect(p.probabilities).toHaveLength(6);
    for (let i = 0; i < 3; i++) expect(p.probabilities[2 * i]! + p.probabilities[2 * i + 1]!).toBeCloseTo(1, 4);
    expect(done.at(-1)).toBe(3);
    expect((await engine.predictLabels({ datasetId: id, modelId: run.model!.id, which: 'all' })).ids).toHaveLength(12);
  });
});
