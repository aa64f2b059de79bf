/**
 * A dataset's labels as model/labels' reducer state, kept in memory per dataset and written
 * through to IndexedDB after every step: each changed image row (label, split, provenance),
 * the dataset's counts and classes, and the step itself on the `labelHistory` store — all in
 * one transaction, so a reload finds labels, provenance and undo exactly as they were. Steps
 * run one at a time (fast keyboard labelling queues them in order). Another tab's engine may
 * write the same dataset: the cached state is used only while the dataset's `labelVersion` is
 * the one it was read at, and every write is announced to other tabs (label-channel.ts).
 */
import { HISTORY_LIMIT, LabelActionError, labelReducer, sameImageLabel, type HistoryEntry, type LabelAction, type LabelState } from '../../../model/labels';
import type { EngineContext } from './context';
import { announceLabelsChanged } from './label-channel';
import { bumpLabelVersion, countImage, emptyCounts, type Db, type DatasetRow } from './store-schema';
import type { ClassEdit, LabelEntry, LabelRequest, LabelStepInfo, LabelSummary } from './label-types';

/** The reducer state of one dataset and how its names map to image rows and history rows. */
export interface LoadedLabels {
  state: LabelState;
  idOf: Map<string, number>;
  nameOf: Map<number, string>;
  pathOf: Map<string, string>;
  /** History entry → its `labelHistory` key. */
  keys: Map<HistoryEntry, number>;
  /** The dataset's `labelVersion` this state was read at. */
  version: number;
}

/** The dataset's labels were written elsewhere (another tab) after this engine read them. */
class StaleLabelsError extends Error {}

/** Tries of a step whose labels another tab changed meanwhile, before giving up. */
const STALE_RETRIES = 3;

const stepInfo = (e: HistoryEntry | undefined): LabelStepInfo | null => (e ? { action: e.action, images: e.images.length, at: e.at } : null);

export class Labels {
  private readonly loaded = new Map<string, Promise<LoadedLabels>>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly ctx: EngineContext) {}

  /** Drops a dataset's cached state (its images were changed elsewhere: import, resplit, delete). */
  forget(datasetId: string): void {
    this.loaded.delete(datasetId);
  }

  /** Runs `fn` after every step before it, so steps apply in the order asked. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The dataset's label state: the cached one while no other engine wrote the dataset since, else read again. */
  async load(datasetId: string): Promise<LoadedLabels> {
    const cached = this.loaded.get(datasetId);
    if (cached) {
      const [loaded, ds] = await Promise.all([cached, this.ctx.db().then((db) => db.get('datasets', datasetId))]);
      if (ds && (ds.labelVersion ?? 0) === loaded.version && this.loaded.get(datasetId) === cached) return loaded;
      if (this.loaded.get(datasetId) === cached) this.loaded.delete(datasetId);
      if (!ds) throw new Error(`no dataset ${datasetId}`);
    }
    let p = this.loaded.get(datasetId);
    if (!p) {
      p = this.read(datasetId);
      this.loaded.set(datasetId, p);
      p.catch(() => this.loaded.delete(datasetId));
    }
    return p;
  }

  private async read(datasetId: string): Promise<LoadedLabels> {
    const db = await this.ctx.db();
    const [ds, classesRow] = await Promise.all([db.get('datasets', datasetId), db.get('labels', datasetId)]);
    if (!ds) throw new Error(`no dataset ${datasetId}`);
    // Read before the images: a write landing meanwhile leaves this state marked as older than the dataset.
    const version = ds.labelVersion ?? 0;
    const images: LabelState['images'] = {};
    const idOf = new Map<string, number>();
    const pathOf = new Map<string, string>();
    const nameOf = new Map<number, string>();
    let cursor = await db.transaction('images').store.index('byDataset').openCursor(datasetId);
    while (cursor) {
      const row = cursor.value;
      // Image names are paths; a path imported twice into one dataset gets its id to stay unique.
      const name = idOf.has(row.path) ? `${row.path}#${row.id!}` : row.path;
      Object.defineProperty(images, name, {
        value: { label: row.label === '' ? null : row.label, split: row.split, provenance: row.provenance ?? null },
        enumerable: true,
        writable: true,
        configurable: true,
      });
      idOf.set(name, row.id!);
      nameOf.set(row.id!, name);
      pathOf.set(name, row.path);
      cursor = await cursor.continue();
    }
    const history = (await db.getAllFromIndex('labelHistory', 'byDataset', datasetId)).sort((a, b) => a.seq! - b.seq!);
    const keys = new Map<HistoryEntry, number>();
    for (const h of history) keys.set(h.entry, h.seq!);
    const state: LabelState = {
      classes: classesRow?.classes ?? [],
      images,
      undo: history.filter((h) => h.stack === 'undo').map((h) => h.entry),
      redo: history.filter((h) => h.stack === 'redo').map((h) => h.entry),
    };
    return { state, idOf, nameOf, pathOf, keys, version };
  }

  async summary(datasetId: string): Promise<LabelSummary> {
    const { state } = await this.load(datasetId);
    const ds = await (await this.ctx.db()).get('datasets', datasetId);
    if (!ds) throw new Error(`no dataset ${datasetId}`);
    return summaryOf(ds, state);
  }

  async entries(datasetId: string): Promise<LabelEntry[]> {
    const { state, idOf, pathOf } = await this.load(datasetId);
    return Object.entries(state.images).map(([name, l]) => ({ id: idOf.get(name)!, path: pathOf.get(name)!, label: l.label, split: l.split, source: l.provenance?.source ?? null }));
  }

  label(request: LabelRequest): Promise<LabelSummary> {
    return this.step(request.datasetId, (loaded) => {
      const images = request.images.map((id) => {
        const name = loaded.nameOf.get(id);
        if (name === undefined) throw new LabelActionError(`image #${id} is not in this dataset`);
        return name;
      });
      return labelReducer(loaded.state, { type: 'label', images, label: request.label, source: request.source, at: Date.now() });
    });
  }

  editClasses(edit: ClassEdit): Promise<LabelSummary> {
    return this.step(edit.datasetId, ({ state }) => {
      const at = Date.now();
      switch (edit.op) {
        case 'add':
          return labelReducer(state, { type: 'add-class', name: edit.name, at });
        case 'rename':
          return labelReducer(state, { type: 'rename-class', from: edit.from, to: edit.to, at });
        case 'delete':
          return labelReducer(state, { type: 'remove-class', name: edit.name, at });
        case 'merge':
          return mergeClasses(state, edit.from, edit.into, at);
        default: {
          const never: never = edit;
          throw new LabelActionError(`unknown class operation ${JSON.stringify(never)}`);
        }
      }
    });
  }

  undo(datasetId: string): Promise<LabelSummary> {
    return this.step(datasetId, ({ state }) => labelReducer(state, { type: 'undo' }));
  }

  redo(datasetId: string): Promise<LabelSummary> {
    return this.step(datasetId, ({ state }) => labelReducer(state, { type: 'redo' }));
  }

  /** Applies one reducer action to a dataset (e.g. an imported file); `changed` counts the images it changed. */
  apply(datasetId: string, action: LabelAction): Promise<{ summary: LabelSummary; changed: number }> {
    return this.serial(() => this.run(datasetId, ({ state }) => labelReducer(state, action)));
  }

  private step(datasetId: string, next: (loaded: LoadedLabels) => LabelState): Promise<LabelSummary> {
    return this.serial(async () => (await this.run(datasetId, next)).summary);
  }

  /**
   * One step: the next state from the reducer, written through, then kept. A failed write keeps
   * the old state; a step whose dataset another tab wrote meanwhile is worked out again on its labels.
   */
  private async run(datasetId: string, next: (loaded: LoadedLabels) => LabelState): Promise<{ summary: LabelSummary; changed: number }> {
    for (let attempt = 1; ; attempt++) {
      const loaded = await this.load(datasetId);
      const before = loaded.state;
      const after = next(loaded);
      let ds: DatasetRow | undefined;
      try {
        ds = after === before ? await (await this.ctx.db()).get('datasets', datasetId) : await this.persist(datasetId, loaded, after);
      } catch (e) {
        if (!(e instanceof StaleLabelsError) || attempt >= STALE_RETRIES) throw e;
        this.forget(datasetId);
        continue;
      }
      if (!ds) throw new Error(`no dataset ${datasetId}`);
      loaded.state = after;
      if (after !== before) announceLabelsChanged(datasetId, ds.labelVersion ?? 0);
      const top = after.undo.at(-1);
      return { summary: summaryOf(ds, after), changed: top !== undefined && top !== before.undo.at(-1) ? top.images.length : 0 };
    }
  }

  private async persist(datasetId: string, loaded: LoadedLabels, after: LabelState): Promise<DatasetRow> {
    const before = loaded.state;
    const db: Db = await this.ctx.db();
    const moves = stackMoves(before, after);
    const names = new Set<string>();
    for (const e of [...moves.added.map((m) => m.entry), ...moves.removed]) for (const c of e.images) names.add(c.name);
    let result!: DatasetRow;
    await this.ctx.write('the labels', async () => {
      const tx = db.transaction(['images', 'datasets', 'labels', 'labelHistory'], 'readwrite');
      const ds = await tx.objectStore('datasets').get(datasetId);
      if (!ds) throw new Error(`no dataset ${datasetId}`);
      if ((ds.labelVersion ?? 0) !== loaded.version) throw new StaleLabelsError('the labels changed in another tab');
      bumpLabelVersion(ds);
      for (const name of names) {
        const id = loaded.idOf.get(name);
        const now = after.images[name];
        if (id === undefined || now === undefined || sameImageLabel(now, before.images[name] ?? now)) continue;
        const row = await tx.objectStore('images').get(id);
        if (!row) continue;
        countImage(ds, row.label, row.split, -1);
        row.label = now.label ?? '';
        row.split = now.split;
        row.provenance = now.provenance;
        countImage(ds, row.label, row.split, 1);
        void tx.objectStore('images').put(row);
      }
      if (after.classes !== before.classes) {
        void tx.objectStore('labels').put({ datasetId, classes: [...after.classes] });
        for (const [k, c] of Object.entries(ds.counts)) if (k !== '' && !after.classes.includes(k) && Object.values(c).every((n) => n === 0)) delete ds.counts[k];
        for (const k of after.classes) ds.counts[k] ??= emptyCounts();
      }
      const history = tx.objectStore('labelHistory');
      for (const e of moves.removed) void history.delete(loaded.keys.get(e)!);
      const added = moves.added.map((m) => history.add({ datasetId, stack: m.stack, entry: m.entry }));
      void tx.objectStore('datasets').put(ds);
      const keys = await Promise.all(added);
      await tx.done;
      for (const e of moves.removed) loaded.keys.delete(e);
      moves.added.forEach((m, i) => loaded.keys.set(m.entry, keys[i]!));
      loaded.version = ds.labelVersion!;
      result = ds;
    });
    return result;
  }
}

/**
 * How the undo/redo stacks changed between two states: entries to store (on which stack) and
 * entries to drop. An entry moving between stacks is dropped and stored again with a new key,
 * so each stack reads back in key order.
 */
function stackMoves(before: LabelState, after: LabelState): { added: Array<{ stack: 'undo' | 'redo'; entry: HistoryEntry }>; removed: HistoryEntry[] } {
  const added: Array<{ stack: 'undo' | 'redo'; entry: HistoryEntry }> = [];
  const removed: HistoryEntry[] = [];
  for (const stack of ['undo', 'redo'] as const) {
    const was = new Set(before[stack]);
    const now = new Set(after[stack]);
    for (const e of before[stack]) if (!now.has(e)) removed.push(e);
    for (const e of after[stack]) if (!was.has(e)) added.push({ stack, entry: e });
  }
  return { added, removed };
}

/**
 * Merges class `from` into `into` as one step: its images take `into`'s name with their
 * provenance kept (the images are not relabelled, the two classes are declared one), and
 * `from` is removed. The removal goes through the reducer, which checks the names.
 */
export function mergeClasses(state: LabelState, from: string, into: string, at: number): LabelState {
  if (!state.classes.includes(into)) throw new LabelActionError(`no class named "${into}"`);
  if (from === into) throw new LabelActionError('a class cannot be merged into itself');
  const images = Object.entries(state.images).flatMap(([name, before]) => (before.label === from ? [{ name, before, after: { ...before, label: into } }] : []));
  const moved: LabelState = { ...state, images: { ...state.images } };
  for (const c of images) Object.defineProperty(moved.images, c.name, { value: c.after, enumerable: true, writable: true, configurable: true });
  const removed = labelReducer(moved, { type: 'remove-class', name: from, at });
  const classes = removed.undo.at(-1)!.classes!;
  const entry: HistoryEntry = { action: 'rename-class', source: 'person', at, images, classes };
  return { classes: removed.classes, images: removed.images, undo: [...state.undo, entry].slice(-HISTORY_LIMIT), redo: [] };
}

function summaryOf(ds: DatasetRow, state: LabelState): LabelSummary {
  const counts = Object.fromEntries(state.classes.map((c) => [c, ds.counts[c] ?? emptyCounts()]));
  counts[''] = ds.counts[''] ?? emptyCounts();
  return {
    datasetId: ds.id,
    classes: [...state.classes],
    counts,
    imageCount: ds.imageCount,
    unlabelled: ds.unlabelled,
    undo: stepInfo(state.undo.at(-1)),
    redo: stepInfo(state.redo.at(-1)),
    undoDepth: state.undo.length,
    version: ds.labelVersion ?? 0,
    curve: ds.labelCurve ?? [],
  };
}
