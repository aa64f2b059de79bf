import { describe, expect, it } from 'vitest';
import { classesOf, recordsFromPaths } from './records';
import { randomSplit } from './split';
import { parseVertexCsv, parseVertexImportFile, parseVertexJsonl, toVertexCsv } from './vertex';

describe('Intel layout from paths', () => {
  it('reads <class>/<file>, <split>/<class>/<file> and Kaggle seg_*/seg_*/ folders', () => {
    const { records, problems } = recordsFromPaths([
      'forest/1.jpg',
      'seg_train/seg_train/sea/2.JPG',
      'seg_test/seg_test/street/3.jpeg',
      'seg_pred/seg_pred/4.jpg',
      'pred/5.png',
      'train/glacier/6.webp',
      'validation/mountain/7.jpg',
      '.DS_Store',
      '__MACOSX/forest/._1.jpg',
      'notes.txt',
      'loose.jpg',
    ]);
    expect(records).toEqual([
      { uri: 'forest/1.jpg', label: 'forest', split: 'unassigned' },
      { uri: 'seg_train/seg_train/sea/2.JPG', label: 'sea', split: 'train' },
      { uri: 'seg_test/seg_test/street/3.jpeg', label: 'street', split: 'test' },
      { uri: 'seg_pred/seg_pred/4.jpg', label: null, split: 'unassigned' },
      { uri: 'pred/5.png', label: null, split: 'unassigned' },
      { uri: 'train/glacier/6.webp', label: 'glacier', split: 'train' },
      { uri: 'validation/mountain/7.jpg', label: 'mountain', split: 'validation' },
      { uri: 'loose.jpg', label: null, split: 'unassigned' },
    ]);
    expect(problems).toEqual([{ source: 'notes.txt', reason: expect.stringMatching(/not an image file/) }]);
    expect(classesOf(records)).toEqual(['forest', 'glacier', 'mountain', 'sea', 'street']);
  });
});

describe('Vertex AI import files', () => {
  it('parses CSV with and without ml_use, quoted fields and unlabelled rows; reports bad lines by number', () => {
    const text = [
      'training,gs://b/seg_train/forest/1.jpg,forest',
      'gs://b/x/2.jpg,sea',
      'TEST,"gs://b/with,comma.jpg",street',
      'validation,gs://b/4.jpg,',
      'gs://b/5.jpg',
      'bogus,gs://b/6.jpg,sea',
      's3://b/7.jpg,sea',
      'training,gs://b/8.jpg,sea,forest',
      '',
    ].join('\r\n');
    const { records, problems } = parseVertexCsv(text, 'import.csv');
    expect(records).toEqual([
      { uri: 'gs://b/seg_train/forest/1.jpg', label: 'forest', split: 'train' },
      { uri: 'gs://b/x/2.jpg', label: 'sea', split: 'unassigned' },
      { uri: 'gs://b/with,comma.jpg', label: 'street', split: 'test' },
      { uri: 'gs://b/4.jpg', label: null, split: 'validation' },
      { uri: 'gs://b/5.jpg', label: null, split: 'unassigned' },
    ]);
    expect(problems.map((p) => p.source)).toEqual(['import.csv:6', 'import.csv:7', 'import.csv:8']);
    expect(problems[0]!.reason).toMatch(/unknown ml_use "bogus"/);
    expect(problems[2]!.reason).toMatch(/single-label/);
  });

  it('parses JSONL with classificationAnnotation and ml_use labels', () => {
    const lines = [
      JSON.stringify({ imageGcsUri: 'gs://b/1.jpg', classificationAnnotation: { displayName: 'sea' }, dataItemResourceLabels: { 'aiplatform.googleapis.com/ml_use': 'training' } }),
      JSON.stringify({ imageGcsUri: 'gs://b/2.jpg', classificationAnnotations: [{ displayName: 'forest' }] }),
      JSON.stringify({ imageGcsUri: 'gs://b/3.jpg' }),
      '{not json',
      JSON.stringify({ classificationAnnotation: { displayName: 'sea' } }),
      JSON.stringify({ imageGcsUri: 'gs://b/6.jpg', dataItemResourceLabels: { 'aiplatform.googleapis.com/ml_use': 'test' }, classificationAnnotation: { displayName: 'street' } }),
    ].join('\n');
    const { records, problems } = parseVertexJsonl(lines, 'data.jsonl');
    expect(records).toEqual([
      { uri: 'gs://b/1.jpg', label: 'sea', split: 'train' },
      { uri: 'gs://b/2.jpg', label: 'forest', split: 'unassigned' },
      { uri: 'gs://b/3.jpg', label: null, split: 'unassigned' },
      { uri: 'gs://b/6.jpg', label: 'street', split: 'test' },
    ]);
    expect(problems).toEqual([
      { source: 'data.jsonl:4', reason: 'not valid JSON' },
      { source: 'data.jsonl:5', reason: 'missing imageGcsUri (a gs:// URI)' },
    ]);
  });

  it('round-trips records through a CSV import file', () => {
    const records = [
      { uri: 'gs://b/a.jpg', label: 'sea', split: 'train' as const },
      { uri: 'gs://b/b "q".jpg', label: 'forest', split: 'test' as const },
      { uri: 'gs://b/c.jpg', label: null, split: 'unassigned' as const },
    ];
    expect(parseVertexImportFile('x.csv', toVertexCsv(records)).records).toEqual(records);
  });
});

describe('seeded split', () => {
  it('is deterministic, disjoint and complete', () => {
    const a = randomSplit(100, 0.2, 42);
    const b = randomSplit(100, 0.2, 42);
    expect(a).toEqual(b);
    expect(a.val).toHaveLength(20);
    expect(new Set([...a.train, ...a.val]).size).toBe(100);
    expect(randomSplit(100, 0.2, 43).val).not.toEqual(a.val);
    expect(() => randomSplit(10, 1, 0)).toThrow(/validation fraction/);
  });
});
