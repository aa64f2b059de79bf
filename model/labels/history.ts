/**
 * The labelling state of one dataset and its undo history, as a pure reducer: `(state,
 * action) → state`, never mutating its input. The state is plain JSON (no Maps, no classes),
 * so the app can persist it as it is after every action and restore it after a reload with
 * undo intact. A bad action throws a {@link LabelActionError} and changes nothing.
 */
import type { ImageRecord, Split } from '../data/records';
import { newClassNameProblem, validateClassNames } from './class-names';
import { LABEL_SOURCES, type ImageLabel, type LabelSource } from './provenance';

/** One image's label before and after an action. */
export interface ImageChange {
  name: string;
  before: ImageLabel;
  after: ImageLabel;
}

/** One undoable step: what it was, who made it, and everything it changed. */
export interface HistoryEntry {
  action: LabelAction['type'];
  source: LabelSource;
  at: number;
  images: ImageChange[];
  /** The class list around the step, when it changed. */
  classes?: { before: string[]; after: string[] };
}

/** Labels of a dataset's images (by image name), its classes, and the undo/redo stacks. */
export interface LabelState {
  classes: string[];
  images: Record<string, ImageLabel>;
  undo: HistoryEntry[];
  redo: HistoryEntry[];
}

/** One image's new label (and split, when given) within an `apply` action. */
export interface LabelChange {
  image: string;
  label: string | null;
  split?: Split;
}

/** Everything that changes labels. `at` is the caller's clock (`Date.now()`), so the reducer stays pure. */
export type LabelAction =
  /** Gives several images one label (null: unlabel them). */
  | { type: 'label'; images: readonly string[]; label: string | null; source: LabelSource; at: number }
  /** Moves images to a split. */
  | { type: 'split'; images: readonly string[]; split: Split; source: LabelSource; at: number }
  /** Many different changes as one step (an imported file, accepted suggestions); `addClasses` are created first. */
  | { type: 'apply'; changes: readonly LabelChange[]; addClasses?: readonly string[]; source: LabelSource; at: number }
  | { type: 'add-class'; name: string; at: number }
  /** Renames a class and relabels its images, keeping their provenance. */
  | { type: 'rename-class'; from: string; to: string; at: number }
  /** Removes a class; its images become unlabelled. */
  | { type: 'remove-class'; name: string; at: number }
  | { type: 'undo' }
  | { type: 'redo' };

/** A refused action: the message says what was wrong; the state is unchanged. */
export class LabelActionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabelActionError';
  }
}

/** Undo steps kept; older ones are dropped so a persisted state stays bounded. */
export const HISTORY_LIMIT = 100;

/** The starting state of a dataset: its records' labels and splits, no provenance, empty history. */
export function initialLabelState(records: readonly ImageRecord[], classes: readonly string[]): LabelState {
  const problems = validateClassNames(classes);
  if (problems.length > 0) throw new LabelActionError(problems.map((p) => p.reason).join('; '));
  const images: Record<string, ImageLabel> = {};
  for (const r of records) {
    if (Object.hasOwn(images, r.uri)) throw new LabelActionError(`image "${r.uri}" is listed twice`);
    if (r.label !== null && !classes.includes(r.label)) throw new LabelActionError(`image "${r.uri}" has the class "${r.label}", which is not one of the classes`);
    setOwn(images, r.uri, { label: r.label, split: r.split, provenance: null });
  }
  return { classes: [...classes], images, undo: [], redo: [] };
}

/** Sets an own property, even one named `__proto__` (image names are user data). */
function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function fail(message: string): never {
  throw new LabelActionError(message);
}

function imageOf(state: LabelState, name: string): ImageLabel {
  if (!Object.hasOwn(state.images, name)) fail(`no image named "${name}" in this dataset`);
  return state.images[name]!;
}

function checkSource(source: LabelSource): void {
  if (!LABEL_SOURCES.includes(source)) fail(`label source must be ${LABEL_SOURCES.join(', ')}, got "${String(source)}"`);
}

function checkSplit(split: Split): void {
  if (!['train', 'validation', 'test', 'unassigned'].includes(split)) fail(`split must be train, validation, test or unassigned, got "${String(split)}"`);
}

/** The image label after setting `label`, provenance recorded; the same object when nothing changes. */
function relabel(before: ImageLabel, label: string | null, source: LabelSource, at: number): ImageLabel {
  if (before.label === label) return before;
  return { ...before, label, provenance: { source, at, previous: before.label } };
}

/** Applies a step's image changes (after, or before when undoing) and class list to a state. */
function commit(state: LabelState, entry: HistoryEntry, direction: 'forward' | 'back'): Pick<LabelState, 'classes' | 'images'> {
  const images = { ...state.images };
  for (const c of entry.images) setOwn(images, c.name, direction === 'forward' ? c.after : c.before);
  const classes = entry.classes ? [...(direction === 'forward' ? entry.classes.after : entry.classes.before)] : state.classes;
  return { classes, images };
}

/** A new step on the history: applied, the redo stack cleared, the oldest steps dropped past the limit. */
function record(state: LabelState, entry: HistoryEntry): LabelState {
  if (entry.images.length === 0 && !entry.classes) return state;
  return { ...commit(state, entry, 'forward'), undo: [...state.undo, entry].slice(-HISTORY_LIMIT), redo: [] };
}

function labelChanges(state: LabelState, changes: readonly LabelChange[], source: LabelSource, at: number, classes: readonly string[]): ImageChange[] {
  const seen = new Set<string>();
  const out: ImageChange[] = [];
  for (const change of changes) {
    const before = imageOf(state, change.image);
    if (seen.has(change.image)) fail(`image "${change.image}" is changed twice in one step`);
    seen.add(change.image);
    if (change.label !== null && !classes.includes(change.label)) fail(`"${change.label}" is not a class (classes: ${classes.join(', ') || 'none'})`);
    if (change.split !== undefined) checkSplit(change.split);
    let after = relabel(before, change.label, source, at);
    if (change.split !== undefined && change.split !== after.split) after = { ...after, split: change.split };
    if (after !== before) out.push({ name: change.image, before, after });
  }
  return out;
}

/**
 * The labelling reducer. Changes that leave an image as it was are not recorded, and an
 * action that changes nothing returns the same state object (no empty undo steps).
 */
export function labelReducer(state: LabelState, action: LabelAction): LabelState {
  switch (action.type) {
    case 'label': {
      checkSource(action.source);
      const changes = action.images.map((image) => ({ image, label: action.label }));
      return record(state, { action: 'label', source: action.source, at: action.at, images: labelChanges(state, changes, action.source, action.at, state.classes) });
    }
    case 'split': {
      checkSource(action.source);
      checkSplit(action.split);
      const images = action.images.flatMap((name) => {
        const before = imageOf(state, name);
        return before.split === action.split ? [] : [{ name, before, after: { ...before, split: action.split } }];
      });
      return record(state, { action: 'split', source: action.source, at: action.at, images });
    }
    case 'apply': {
      checkSource(action.source);
      const added = (action.addClasses ?? []).filter((c) => !state.classes.includes(c));
      const classes = [...state.classes, ...added];
      const problems = validateClassNames(classes);
      if (problems.length > 0) fail(problems.map((p) => p.reason).join('; '));
      const images = labelChanges(state, action.changes, action.source, action.at, classes);
      return record(state, { action: 'apply', source: action.source, at: action.at, images, ...(added.length > 0 && { classes: { before: state.classes, after: classes } }) });
    }
    case 'add-class': {
      const problem = newClassNameProblem(action.name, state.classes);
      if (problem) fail(problem);
      return record(state, { action: 'add-class', source: 'person', at: action.at, images: [], classes: { before: state.classes, after: [...state.classes, action.name] } });
    }
    case 'rename-class': {
      if (!state.classes.includes(action.from)) fail(`no class named "${action.from}"`);
      if (action.from === action.to) return state;
      const problem = newClassNameProblem(action.to, state.classes, action.from);
      if (problem) fail(problem);
      // A rename is not a relabelling: provenance stays, only the name changes.
      const images = Object.entries(state.images).flatMap(([name, before]) => (before.label === action.from ? [{ name, before, after: { ...before, label: action.to } }] : []));
      const after = state.classes.map((c) => (c === action.from ? action.to : c));
      return record(state, { action: 'rename-class', source: 'person', at: action.at, images, classes: { before: state.classes, after } });
    }
    case 'remove-class': {
      if (!state.classes.includes(action.name)) fail(`no class named "${action.name}"`);
      const images = Object.entries(state.images).flatMap(([name, before]) => (before.label === action.name ? [{ name, before, after: relabel(before, null, 'person', action.at) }] : []));
      return record(state, { action: 'remove-class', source: 'person', at: action.at, images, classes: { before: state.classes, after: state.classes.filter((c) => c !== action.name) } });
    }
    case 'undo': {
      const entry = state.undo.at(-1);
      if (!entry) return state;
      return { ...commit(state, entry, 'back'), undo: state.undo.slice(0, -1), redo: [...state.redo, entry] };
    }
    case 'redo': {
      const entry = state.redo.at(-1);
      if (!entry) return state;
      return { ...commit(state, entry, 'forward'), undo: [...state.undo, entry], redo: state.redo.slice(0, -1) };
    }
    default: {
      const never: never = action;
      return fail(`unknown label action ${JSON.stringify(never)}`);
    }
  }
}

/** The images as records (name, label, split), in the state's order: what the export functions take. */
export function recordsOf(state: LabelState): ImageRecord[] {
  return Object.entries(state.images).map(([uri, l]) => ({ uri, label: l.label, split: l.split }));
}
