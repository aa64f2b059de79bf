import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { LabelActionError } from '../../../model/labels';
import { caffeBgr } from '../../../model/preprocess';
import { DEFAULT_TRAIN_OPTIONS } from '../../../model/train';
import type { LocalEngine } from './local-engine';
import { Labels } from './labels';
import { connectEngine, serveEngine, type EngineMessage, type EngineRequest, type Port } from './protocol';
import { onLabelsChanged } from './label-channel';
import { openDb } from './store-schema';
import { INTEL, PTH, SHARED, intelFiles, nodeEngine } from './test-support';
import type { ImportFile, TrainConfig } from './types';

if (!existsSync(INTEL) || !existsSync(PTH)) throw new Error(`shared data not found (${INTEL}, ${PTH})`);
const PRED = path.join(SHARED, 'datasets/intel-scenes/pred');

/** `n` of the unlabelled pred images, as `intel-small/pred/<file>`. */
function predFiles(n: number): ImportFile[] {
  return readdirSync(PRED)
    .sort()
    .slice(0, n)
    .map((f) => ({ path: `intel-small/pred/${f}`, file: new Blob([readFileSync(path.join(PRED, f))], { type: 'image/jpeg' }) }));
}

/** forest/sea/street, 3 train + 1 test each, and 6 unlabelled images. */
async function smallDataset(engine: LocalEngine): Promise<string> {
  const files = [...intelFiles(['forest', 'sea', 'street'], 3, 1), ...predFiles(6)];
  return (await engine.importDataset({ name: 'small', source: { kind: 'files', files } })).dataset.id;
}

const idsOf = async (engine: LocalEngine, datasetId: string, label: string | null): Promise<number[]> =>
  (await engine.labelEntries(datasetId)).filter((e) => e.label === label).map((e) => e.id);

describe('labelling in the engine (fake-indexeddb)', () => {
  beforeAll(async () => {
    await nodeEngine().engine.init('wasm');
  });

  it('adds, renames, merges and deletes classes with counts per class and split', async () => {
    const { engine } = nodeEngine();
    const id = await smallDataset(engine);
    let s = await engine.labelSummary(id);
    expect(s.classes).toEqual(['forest', 'sea', 'street']);
    expect(s.counts['']).toEqual({ train: 0, validation: 0, test: 0, unassigned: 6 });

    s = await engine.editClasses({ op: 'add', datasetId: id, name: 'lake' });
    expect(s.classes).toEqual(['forest', 'sea', 'street', 'lake']);
    expect(s.counts['lake']).toEqual({ train: 0, validation: 0, test: 0, unassigned: 0 });

    s = await engine.editClasses({ op: 'rename', datasetId: id, from: 'sea', to: 'ocean' });
    expect(s.classes).toEqual(['forest', 'ocean', 'street', 'lake']);
    expect(s.counts['ocean']).toEqual({ train: 3, validation: 0, test: 1, unassigned: 0 });
    expect(s.counts['sea']).toBeUndefined();

    s = await engine.editClasses({ op: 'merge', datasetId: id, from: 'street', into: 'forest' });
    expect(s.classes).toEqual(['forest', 'ocean', 'lake']);
    expect(s.counts['forest']).toEqual({ train: 6, validation: 0, test: 2, unassigned: 0 });
    // A merge declares two classes one; the images keep their provenance (as imported).
    expect((await engine.labelEntries(id)).filter((e) => e.label === 'forest').every((e) => e.source === null)).toBe(true);

    s = await engine.editClasses({ op: 'delete', datasetId: id, name: 'ocean' });
    expect(s.classes).toEqual(['forest', 'lake']);
    expect(s.unlabelled).toBe(10);
    expect(s.counts['']).toEqual({ train: 3, validation: 0, test: 1, unassigned: 6 });
    // The class list is what training and the Datasets screen read.
    expect((await engine.listDatasets())[0]!.classes).toEqual(['forest', 'lake']);

    // Four steps, undone one by one back to the imported state.
    for (let i = 0; i < 4; i++) s = await engine.undoLabel(id);
    expect(s.classes).toEqual(['forest', 'sea', 'street']);
    expect(s.counts['street']).toEqual({ train: 3, validation: 0, test: 1, unassigned: 0 });
    expect(s.unlabelled).toBe(6);
    expect(s.undo).toBeNull();
    s = await engine.redoLabel(id);
    expect(s.classes).toContain('lake');
  });

  it('refuses bad class operations and labels with a clear error, changing nothing', async () => {
    const { engine } = nodeEngine();
    const id = await smallDataset(engine);
    const before = await engine.labelSummary(id);
    await expect(engine.editClasses({ op: 'add', datasetId: id, name: 'Forest' })).rejects.toThrow(/only in case/);
    await expect(engine.editClasses({ op: 'add', datasetId: id, name: 'a/b' })).rejects.toThrow(LabelActionError);
    await expect(engine.editClasses({ op: 'rename', datasetId: id, from: 'nope', to: 'x' })).rejects.toThrow(/no class named "nope"/);
    await expect(engine.editClasses({ op: 'merge', datasetId: id, from: 'sea', into: 'sea' })).rejects.toThrow(/itself/);
    await expect(engine.editClasses({ op: 'merge', datasetId: id, from: 'sea', into: 'lake' })).rejects.toThrow(/no class named "lake"/);
    const unlabelled = await idsOf(engine, id, null);
    await expect(engine.labelImages({ datasetId: id, images: [unlabelled[0]!], label: 'lake', source: 'person' })).rejects.toThrow(/"lake" is not a class/);
    await expect(engine.labelImages({ datasetId: id, images: [999_999], label: 'sea', source: 'person' })).rejects.toThrow(/#999999 is not in this dataset/);
    await expect(engine.labelImages({ datasetId: id, images: [unlabelled[0]!], label: 'sea', source: 'robot' as never })).rejects.toThrow(/label source/);
    expect(await engine.labelSummary(id)).toEqual(before);
  });

  it('records provenance for every label and keeps labels, provenance and undo across a reopen', async () => {
    const first = nodeEngine();
    const id = await smallDataset(first.engine);
    const [a, b, c, d] = await idsOf(first.engine, id, null);
    await first.engine.labelImages({ datasetId: id, images: [a!], label: 'sea', source: 'person' });
    await first.engine.labelImages({ datasetId: id, images: [b!], label: 'forest', source: 'suggestion' });
    // A bulk step: two images, one undo.
    await first.engine.labelImages({ datasetId: id, images: [c!, d!], label: 'street', source: 'person' });
    await first.engine.labelImages({ datasetId: id, images: [a!], label: 'forest', source: 'person' });

    const db = await openDb(first.dbName);
    const row = await db.get('images', a!);
    expect(row?.label).toBe('forest');
    expect(row?.provenance).toMatchObject({ source: 'person', previous: 'sea' });
    expect(row?.provenance?.at).toBeGreaterThan(Date.now() - 60_000);
    db.close();

    // A new engine over the same database: a reloaded page.
    const second = nodeEngine({ dbName: first.dbName });
    const entries = await second.engine.labelEntries(id);
    const byId = new Map(entries.map((e) => [e.id, e]));
    expect(byId.get(b!)).toMatchObject({ label: 'forest', source: 'suggestion' });
    let s = await second.engine.labelSummary(id);
    expect(s.undo).toMatchObject({ action: 'label', images: 1 });
    expect(s.undoDepth).toBe(4);
    s = await second.engine.undoLabel(id);
    expect((await second.engine.labelEntries(id)).find((e) => e.id === a)?.label).toBe('sea');
    s = await second.engine.undoLabel(id);
    expect(s.counts['street']).toEqual({ train: 3, validation: 0, test: 1, unassigned: 0 });
    expect(s.unlabelled).toBe(4);

    // And the undone steps are still there to redo after another reopen.
    const third = nodeEngine({ dbName: first.dbName });
    expect((await third.engine.labelSummary(id)).redo).toMatchObject({ action: 'label', images: 2 });
    s = await third.engine.redoLabel(id);
    expect(s.counts['street']?.unassigned).toBe(2);
    // A new step clears the redo stack, also in the store.
    await third.engine.labelImages({ datasetId: id, images: [b!], label: null, source: 'person' });
    expect((await nodeEngine({ dbName: first.dbName }).engine.labelSummary(id)).redo).toBeNull();
  });

  it('a second tab sees the labels the first gives, and is told of them', async () => {
    const first = nodeEngine();
    const id = await smallDataset(first.engine);
    const second = nodeEngine({ dbName: first.dbName });
    const heard: Array<[string, number]> = [];
    const stop = onLabelsChanged((datasetId, version) => heard.push([datasetId, version]));
    try {
      const [a, b] = await idsOf(first.engine, id, null);
      // Both tabs have the dataset's labels cached.
      expect((await second.engine.labelSummary(id)).unlabelled).toBe(6);
      await first.engine.labelImages({ datasetId: id, images: [a!], label: 'sea', source: 'person' });
      expect((await second.engine.labelEntries(id)).find((e) => e.id === a)?.label).toBe('sea');
      const seen = await second.engine.labelSummary(id);
      expect(seen.unlabelled).toBe(5);
      expect(seen.version).toBe((await first.engine.labelSummary(id)).version);
      // The second tab labels from its state and the first one sees it, with one undo stack for both.
      await second.engine.labelImages({ datasetId: id, images: [b!], label: 'forest', source: 'person' });
      expect((await first.engine.labelEntries(id)).find((e) => e.id === b)?.label).toBe('forest');
      expect((await first.engine.labelSummary(id)).undoDepth).toBe(2);
      // Undo in the first tab undoes the second tab's step, the last one made.
      await first.engine.undoLabel(id);
      expect((await second.engine.labelEntries(id)).find((e) => e.id === b)?.label).toBeNull();
      // Each write told, with the version it left.
      const version = (await first.engine.labelSummary(id)).version;
      // (Filtered: test files running in other threads of this process may be labelling too.)
      await vi.waitFor(() => expect(heard.filter(([d]) => d === id)).toEqual([id, id, id].map((d, k) => [d, version - 2 + k])));
    } finally {
      stop();
    }
  });

  it('a step whose dataset another tab wrote after it read the labels is worked out again on them', async () => {
    const first = nodeEngine();
    const id = await smallDataset(first.engine);
    const second = nodeEngine({ dbName: first.dbName });
    const [a, b] = await idsOf(first.engine, id, null);
    await first.engine.labelSummary(id);
    // The other tab's step lands between this tab's read of the labels and its write.
    const firstLabels = (first.engine as unknown as { labels: Labels }).labels;
    const load = Labels.prototype.load;
    let interleave = true;
    vi.spyOn(Labels.prototype, 'load').mockImplementation(async function (this: Labels, datasetId: string) {
      const loaded = await load.call(this, datasetId);
      if (this === firstLabels && interleave) {
        interleave = false;
        await second.engine.labelImages({ datasetId: id, images: [b!], label: 'forest', source: 'person' });
      }
      return loaded;
    });
    const s = await first.engine.labelImages({ datasetId: id, images: [a!], label: 'sea', source: 'person' });
    vi.restoreAllMocks();
    expect(interleave).toBe(false);
    expect(s.undoDepth).toBe(2);
    expect(s.unlabelled).toBe(4);
    const labels = new Map((await nodeEngine({ dbName: first.dbName }).engine.labelEntries(id)).map((e) => [e.id, e.label]));
    expect([labels.get(a!), labels.get(b!)]).toEqual(['sea', 'forest']);
    // Undo takes back this tab's step, the last, and then the other tab's.
    expect((await first.engine.undoLabel(id)).unlabelled).toBe(5);
    expect((await second.engine.labelEntries(id)).find((e) => e.id === a)?.label).toBeNull();
  });

  it('labels the same way behind the worker boundary, refusals arriving as LabelActionError', async () => {
    const { engine: local } = nodeEngine();
    const channel = new MessageChannel();
    serveEngine(channel.port2 as unknown as Port<EngineRequest, EngineMessage>, local);
    const engine = connectEngine(channel.port1 as unknown as Port<EngineMessage, EngineRequest>);
    channel.port1.start();
    channel.port2.start();
    try {
      const id = await smallDataset(local);
      const [a] = (await engine.labelEntries(id)).filter((e) => e.label === null);
      let s = await engine.labelImages({ datasetId: id, images: [a!.id], label: 'sea', source: 'suggestion' });
      expect(s.counts['sea']?.unassigned).toBe(1);
      await expect(engine.editClasses({ op: 'add', datasetId: id, name: 'SEA' })).rejects.toBeInstanceOf(LabelActionError);
      s = await engine.undoLabel(id);
      expect(s.unlabelled).toBe(6);
    } finally {
      channel.port1.close();
      channel.port2.close();
    }
  });

  it('labels typed fast apply in order', async () => {
    const { engine } = nodeEngine();
    const id = await smallDataset(engine);
    const ids = await idsOf(engine, id, null);
    const labels = ['sea', 'forest', 'street', 'sea', 'forest', 'street'];
    await Promise.all(ids.map((img, i) => engine.labelImages({ datasetId: id, images: [img], label: labels[i]!, source: 'person' })));
    const entries = new Map((await engine.labelEntries(id)).map((e) => [e.id, e.label]));
    expect(ids.map((i) => entries.get(i))).toEqual(labels);
    expect((await engine.labelSummary(id)).undoDepth).toBe(6);
  });

  it('trains on labels a person gave or confirmed only, when asked', async () => {
    const { engine } = nodeEngine();
    const id = await smallDataset(engine);
    const w = await engine.importWeights('w.pth', new Blob([readFileSync(PTH)]));
    const [p1, p2, p3] = await idsOf(engine, id, null);
    await engine.labelImages({ datasetId: id, images: [p1!], label: 'sea', source: 'person' });
    await engine.labelImages({ datasetId: id, images: [p2!], label: 'forest', source: 'suggestion' });
    await engine.labelImages({ datasetId: id, images: [p3!], label: 'street', source: 'cloud' });
    const trainCount = async (confirmedOnly: boolean): Promise<number> => {
      const config: TrainConfig = {
        datasetId: id,
        weightsId: w.id,
        arch: 'squeezenet1_1',
        preprocessing: caffeBgr(64),
        valSplit: 0,
        confirmedOnly,
        options: { ...DEFAULT_TRAIN_OPTIONS, freeze: true, batchSize: 8, epochs: 1, hflip: false, seed: 1 },
      };
      let total = -1;
      await engine.train(config, { onProgress: (e) => void (e.type === 'stage' && (total = e.total)) });
      return total;
    };
    // 9 imported train images + 3 labelled here; the cloud label stays out when asked.
    expect(await trainCount(false)).toBe(12);
    expect(await trainCount(true)).toBe(11);
  });
});
