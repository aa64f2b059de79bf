import { describe, expect, it } from 'vitest';
import { HISTORY_LIMIT, initialLabelState, labelReducer, LabelActionError, recordsOf, type LabelAction, type LabelState } from './history';

const records = [
  { uri: 'a.jpg', label: 'sea', split: 'train' as const },
  { uri: 'b.jpg', label: null, split: 'train' as const },
  { uri: 'c.jpg', label: 'forest', split: 'test' as const },
  { uri: '__proto__', label: null, split: 'unassigned' as const },
];

function run(state: LabelState, ...actions: LabelAction[]): LabelState {
  return actions.reduce(labelReducer, state);
}

describe('labelling history', () => {
  const start = initialLabelState(records, ['sea', 'forest']);

  it('labels with provenance, and undo/redo restore exactly', () => {
    const s1 = labelReducer(start, { type: 'label', images: ['b.jpg'], label: 'sea', source: 'person', at: 10 });
    expect(s1.images['b.jpg']).toEqual({ label: 'sea', split: 'train', provenance: { source: 'person', at: 10, previous: null } });
    const s2 = labelReducer(s1, { type: 'label', images: ['b.jpg', 'a.jpg'], label: 'forest', source: 'suggestion', at: 20 });
    expect(s2.images['b.jpg']!.provenance).toEqual({ source: 'suggestion', at: 20, previous: 'sea' });
    expect(s2.undo).toHaveLength(2);
    const back = labelReducer(s2, { type: 'undo' });
    expect(back.images).toEqual(s1.images);
    expect(run(back, { type: 'undo' }).images).toEqual(start.images);
    expect(labelReducer(back, { type: 'redo' }).images).toEqual(s2.images);
    // A new action after an undo drops the redo stack.
    expect(labelReducer(back, { type: 'label', images: ['c.jpg'], label: 'sea', source: 'person', at: 30 }).redo).toEqual([]);
    // The input states were never touched.
    expect(start.images['b.jpg']!.label).toBeNull();
    expect(s1.images['a.jpg']!.label).toBe('sea');
  });

  it('survives a JSON round trip (the app persists it as it is)', () => {
    const s = run(start, { type: 'label', images: ['b.jpg'], label: 'sea', source: 'cloud', at: 1 }, { type: 'add-class', name: 'street', at: 2 });
    const restored = JSON.parse(JSON.stringify(s)) as LabelState;
    expect(restored).toEqual(s);
    expect(run(restored, { type: 'undo' }, { type: 'undo' })).toEqual(run(s, { type: 'undo' }, { type: 'undo' }));
    expect(Object.keys(restored.images)).toContain('__proto__');
  });

  it('applies a bulk step with new classes and splits, undone as one', () => {
    const s = labelReducer(start, {
      type: 'apply',
      changes: [
        { image: 'a.jpg', label: 'street' },
        { image: 'b.jpg', label: 'sea', split: 'validation' },
        { image: 'c.jpg', label: 'forest' }, // unchanged: not recorded
        { image: '__proto__', label: 'sea' },
      ],
      addClasses: ['street'],
      source: 'person',
      at: 5,
    });
    expect(s.classes).toEqual(['sea', 'forest', 'street']);
    expect(s.undo[0]!.images.map((c) => c.name)).toEqual(['a.jpg', 'b.jpg', '__proto__']);
    expect(s.images['b.jpg']).toEqual({ label: 'sea', split: 'validation', provenance: { source: 'person', at: 5, previous: null } });
    expect(Object.getPrototypeOf(s.images)).toBe(Object.prototype);
    expect(labelReducer(s, { type: 'undo' })).toEqual({ ...start, redo: s.undo });
  });

  it('renames and removes classes, relabelling their images', () => {
    const s = run(start, { type: 'rename-class', from: 'sea', to: 'sea view', at: 1 });
    expect(s.classes).toEqual(['sea view', 'forest']);
    // A rename keeps provenance: nobody relabelled the image.
    expect(s.images['a.jpg']).toEqual({ label: 'sea view', split: 'train', provenance: null });
    const r = labelReducer(s, { type: 'remove-class', name: 'forest', at: 2 });
    expect(r.classes).toEqual(['sea view']);
    expect(r.images['c.jpg']).toEqual({ label: null, split: 'test', provenance: { source: 'person', at: 2, previous: 'forest' } });
    expect(run(r, { type: 'undo' }, { type: 'undo' })).toMatchObject({ classes: start.classes, images: start.images });
    expect(labelReducer(start, { type: 'split', images: ['a.jpg'], split: 'test', source: 'person', at: 3 }).images['a.jpg']!.split).toBe('test');
  });

  it('returns the same state for no-ops and empty stacks', () => {
    expect(labelReducer(start, { type: 'label', images: ['a.jpg'], label: 'sea', source: 'person', at: 1 })).toBe(start);
    expect(labelReducer(start, { type: 'undo' })).toBe(start);
    expect(labelReducer(start, { type: 'redo' })).toBe(start);
    expect(labelReducer(start, { type: 'rename-class', from: 'sea', to: 'sea', at: 1 })).toBe(start);
  });

  it('refuses bad actions with a clear error and changes nothing', () => {
    const bad: Array<[LabelAction, RegExp]> = [
      [{ type: 'label', images: ['a.jpg', 'nope.jpg'], label: 'sea', source: 'person', at: 1 }, /no image named "nope.jpg"/],
      [{ type: 'label', images: ['a.jpg'], label: 'street', source: 'person', at: 1 }, /"street" is not a class/],
      [{ type: 'label', images: ['a.jpg'], label: 'sea', source: 'robot' as never, at: 1 }, /label source/],
      [{ type: 'apply', changes: [{ image: 'a.jpg', label: null }, { image: 'a.jpg', label: 'sea' }], source: 'person', at: 1 }, /changed twice/],
      [{ type: 'apply', changes: [], addClasses: ['Sea'], source: 'person', at: 1 }, /only in case/],
      [{ type: 'split', images: ['a.jpg'], split: 'holdout' as never, source: 'person', at: 1 }, /split must be/],
      [{ type: 'add-class', name: ' sea', at: 1 }, /whitespace/],
      [{ type: 'add-class', name: 'forest', at: 1 }, /already exists/],
      [{ type: 'rename-class', from: 'street', to: 'road', at: 1 }, /no class named "street"/],
      [{ type: 'rename-class', from: 'sea', to: 'Forest', at: 1 }, /only in case/],
      [{ type: 'remove-class', name: 'street', at: 1 }, /no class named/],
    ];
    const frozen = JSON.stringify(start);
    for (const [action, message] of bad) expect(() => labelReducer(start, action)).toThrow(message);
    expect(() => labelReducer(start, bad[0]![0])).toThrow(LabelActionError);
    expect(JSON.stringify(start)).toBe(frozen);
    expect(() => initialLabelState([...records, records[0]!], ['sea', 'forest'])).toThrow(/listed twice/);
    expect(() => initialLabelState(records, ['sea'])).toThrow(/"forest", which is not one of the classes/);
    expect(() => initialLabelState([], ['sea', 'sea'])).toThrow(/listed twice/);
  });

  it('keeps at most HISTORY_LIMIT steps', () => {
    let s = start;
    for (let i = 0; i < HISTORY_LIMIT + 5; i++) s = labelReducer(s, { type: 'label', images: ['b.jpg'], label: i % 2 ? 'sea' : 'forest', source: 'person', at: i });
    expect(s.undo).toHaveLength(HISTORY_LIMIT);
    expect(s.undo[0]!.at).toBe(5);
    expect(recordsOf(s).find((r) => r.uri === 'b.jpg')).toEqual({ uri: 'b.jpg', label: 'forest', split: 'train' }); // the last step, i = 104, is even
  });
});
