import { strToU8, unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import type { ImageRecord } from '../data/records';
import { recordsFromPaths } from '../data/records';
import { exportFolderZip, importFolderZip, ZIP_NAMES_ENTRY } from './folder-zip';
import { initialLabelState, labelReducer, recordsOf } from './history';
import { exportLabelFile, importLabelFile, labelFileFormat, LABEL_FILE_FORMATS } from './label-files';
import { importAction, type LabelImport } from './label-import';
import { exportPlainCsv, importPlainCsv } from './plain-csv';
import { exportVertexCsv, exportVertexJsonl, importVertexCsv, importVertexJsonl, normalizeGcsPrefix } from './vertex-files';
import { classesFromVertexLabels, suggestVertexLabels } from './vertex-names';

// Names that break naive CSV, JSON or path handling, in every split, labelled and not.
const records: ImageRecord[] = [
  { uri: 'train/sea/1.jpg', label: 'sea', split: 'train' },
  { uri: 'train/forest/a, "quoted" name.jpg', label: 'forest', split: 'train' },
  { uri: 'val/été/über ☃.png', label: 'glacier', split: 'validation' },
  { uri: 'test/x/1.jpg', label: 'forest', split: 'test' },
  { uri: 'pred/unlabelled.jpg', label: null, split: 'unassigned' },
  { uri: 'train/unlabelled too.jpg', label: null, split: 'train' },
  { uri: 'loose.jpg', label: 'sea', split: 'unassigned' },
  { uri: ' padded .jpg', label: 'sea', split: 'test' },
];
const images = records.map((r) => r.uri);
const classes = ['sea', 'forest', 'glacier'];
const options = { images, classes, fixedClasses: true };
const bytes = (name: string): Uint8Array => strToU8(`pixels of ${name}`);

/** The records an import describes, in the dataset's order (what applying it gives from an empty start). */
function applied(result: LabelImport): ImageRecord[] {
  expect(result.problems).toEqual([]);
  const blank = initialLabelState(
    records.map((r) => ({ ...r, label: null, split: 'unassigned' as const })),
    classes,
  );
  return recordsOf(labelReducer(blank, importAction(result, 'person', 1)));
}

describe('label files round trip', () => {
  it('Vertex AI CSV and JSONL keep labels, splits, unlabelled images and odd names', () => {
    const csv = exportVertexCsv(records, { gcsPrefix: 'gs://scenes-bucket/label set' });
    expect(csv.split('\n').slice(0, 5)).toEqual([
      'training,gs://scenes-bucket/label set/train/sea/1.jpg,sea',
      'training,"gs://scenes-bucket/label set/train/forest/a, ""quoted"" name.jpg",forest',
      'validation,gs://scenes-bucket/label set/val/été/über ☃.png,glacier',
      'test,gs://scenes-bucket/label set/test/x/1.jpg,forest',
      'gs://scenes-bucket/label set/pred/unlabelled.jpg',
    ]);
    const jsonl = exportVertexJsonl(records, { gcsPrefix: 'gs://scenes-bucket/label set/' });
    expect(JSON.parse(jsonl.split('\n')[0]!)).toEqual({
      imageGcsUri: 'gs://scenes-bucket/label set/train/sea/1.jpg',
      classificationAnnotation: { displayName: 'sea' },
      dataItemResourceLabels: { 'aiplatform.googleapis.com/ml_use': 'training' },
    });
    expect(JSON.parse(jsonl.split('\n')[4]!)).toEqual({ imageGcsUri: 'gs://scenes-bucket/label set/pred/unlabelled.jpg' });
    for (const gcsPrefix of ['gs://scenes-bucket/label set', undefined]) {
      const o = { ...options, ...(gcsPrefix && { gcsPrefix }) };
      expect(applied(importVertexCsv(csv, 'labels.csv', o))).toEqual(records);
      expect(applied(importVertexJsonl(jsonl, 'labels.jsonl', o))).toEqual(records);
    }
  });

  it('Vertex AI class names are mapped on export and back on import', () => {
    const odd = records.map((r) => (r.label === 'sea' ? { ...r, label: 'sea view' } : r.label === 'glacier' ? { ...r, label: '3d' } : r));
    const oddClasses = ['sea view', 'forest', '3d'];
    expect(() => exportVertexCsv(odd, { gcsPrefix: 'gs://bkt' })).toThrow(/rename: "sea view" → "sea_view", "3d" → "c_3d"/);
    const labelNames = suggestVertexLabels(oddClasses);
    const csv = exportVertexCsv(odd, { gcsPrefix: 'gs://bkt', labelNames });
    expect(csv).toContain(',sea_view\n');
    expect(csv).toContain(',c_3d\n');
    const rename = classesFromVertexLabels(labelNames);
    expect(rename).toEqual({ sea_view: 'sea view', forest: 'forest', c_3d: '3d' });
    const result = importVertexCsv(csv, 'l.csv', { images, classes: oddClasses, fixedClasses: true, rename });
    expect(result.problems).toEqual([]);
    expect(result.labels.map((l) => l.label)).toEqual(odd.map((r) => r.label));
  });

  it('plain CSV keeps everything, headers and quoting included', () => {
    const csv = exportPlainCsv(records);
    expect(csv.split('\n')[0]).toBe('path,label,split');
    expect(csv).toContain('" padded .jpg",sea,test');
    expect(applied(importPlainCsv(csv, 'labels.csv', options))).toEqual(records);
    // Without a split column the images keep their splits.
    const two = importPlainCsv('train/sea/1.jpg,forest\nloose.jpg,\n', 'two.csv', options);
    expect(two.labels).toEqual([
      { image: 'train/sea/1.jpg', label: 'forest', line: 1 },
      { image: 'loose.jpg', label: null, line: 2 },
    ]);
  });

  it('a name with a line break survives the CSV and zip formats', () => {
    const weird: ImageRecord[] = [{ uri: 'two\nlines.jpg', label: 'sea', split: 'train' }];
    const o = { images: ['two\nlines.jpg'], classes: ['sea'], fixedClasses: true };
    expect(importPlainCsv(exportPlainCsv(weird), 'w.csv', o).labels).toEqual([{ image: 'two\nlines.jpg', label: 'sea', split: 'train', line: 2 }]);
    expect(importFolderZip(exportFolderZip(weird, bytes), 'w.zip', o).labels[0]!.image).toBe('two\nlines.jpg');
    expect(() => exportVertexCsv(weird, { gcsPrefix: 'gs://bkt' })).toThrow(/line break/);
  });

  it('zip in the Intel layout keeps everything and reads back as a dataset', () => {
    const zip = exportFolderZip(records, bytes);
    const files = unzipSync(zip);
    expect(Object.keys(files).sort()).toEqual(
      [
        ZIP_NAMES_ENTRY,
        'pred/sea/loose.jpg',
        'pred/unlabelled.jpg',
        'test/forest/1.jpg',
        'test/sea/ padded .jpg',
        'train/forest/a, "quoted" name.jpg',
        'train/sea/1.jpg',
        'train/unlabelled too.jpg',
        'validation/glacier/über ☃.png',
      ].sort(),
    );
    expect(new TextDecoder().decode(files['validation/glacier/über ☃.png'])).toBe('pixels of val/été/über ☃.png');
    expect(applied(importFolderZip(zip, 'labels.zip', options))).toEqual(records);
    // SceneLab's own dataset import reads the same labels and splits from the entry paths.
    const asDataset = recordsFromPaths(Object.keys(files));
    expect(asDataset.problems).toEqual([]);
    expect(asDataset.records.map((r) => [r.label, r.split]).sort()).toEqual(records.map((r) => [r.label, r.split]).sort());
  });

  it('zip export gives clashing file names distinct entries', () => {
    const clash: ImageRecord[] = [
      { uri: 'a/1.jpg', label: 'sea', split: 'train' },
      { uri: 'b/1.jpg', label: 'sea', split: 'train' },
      { uri: 'c/1.JPG', label: 'sea', split: 'train' },
    ];
    const zip = exportFolderZip(clash, bytes);
    expect(Object.keys(unzipSync(zip)).filter((k) => !k.startsWith('.'))).toEqual(['train/sea/1.jpg', 'train/sea/1 (2).jpg', 'train/sea/1 (3).JPG']);
    expect(applied2(importFolderZip(zip, 'z.zip', { images: clash.map((r) => r.uri), classes: ['sea'] }))).toEqual(clash.map((r) => r.uri));
    expect(() => exportFolderZip(clash, () => undefined)).toThrow(/no file for the image "a\/1.jpg"/);
  });

  it('a zip from elsewhere is matched by path, wrapped in a folder or in Kaggle layout', () => {
    const zip = zipSync({
      'scenes/seg_train/seg_train/forest/a, "quoted" name.jpg': strToU8('x'),
      'scenes/seg_test/seg_test/sea/x/1.jpg': strToU8('x'),
      'scenes/seg_pred/loose.jpg': strToU8('x'),
      'scenes/readme.txt': strToU8('ignored'),
      'scenes/.DS_Store': strToU8('ignored'),
    });
    const r = importFolderZip(zip, 'kaggle.zip', options);
    expect(r.problems.map((p) => p.reason)).toEqual(['expected <split>/<class>/<file> or <split>/<file>']);
    expect(r.labels.map(({ image, label, split }) => [image, label, split])).toEqual([
      ['train/forest/a, "quoted" name.jpg', 'forest', 'train'],
      ['loose.jpg', null, 'unassigned'],
    ]);
    // Two images share the file name and nothing more: the entry is ambiguous, not guessed.
    const amb = importFolderZip(zipSync({ 'train/sea/1.jpg': strToU8('x'), 'train/glacier/z.jpg': strToU8('x') }), 'z.zip', { images: ['a/1.jpg', 'b/1.jpg'], classes });
    expect(amb.problems.map((p) => p.reason)).toEqual(['"train/sea/1.jpg" could be any of 2 images (a/1.jpg, b/1.jpg)', 'no image named "train/glacier/z.jpg" in this dataset']);
  });
});

function applied2(result: LabelImport): string[] {
  expect(result.problems).toEqual([]);
  return result.labels.map((l) => l.image);
}

describe('label import problems', () => {
  it('reports every bad line and applies nothing', () => {
    const csv = [
      'training,gs://bkt/p/train/sea/1.jpg,sea',
      'training,gs://bkt/p/nowhere.jpg,sea',
      'training,gs://bkt/p/loose.jpg,street',
      'holdout,gs://bkt/p/test/x/1.jpg,sea',
      'test,gs://bkt/p/train/sea/1.jpg,forest',
      'training,gs://bkt/p/1.jpg,sea',
      'training,gs://other/p/loose.jpg,sea',
      'training,"gs://bkt/p/unclosed.jpg,sea',
    ].join('\n');
    const r = importVertexCsv(csv, 'labels.csv', { ...options, gcsPrefix: 'gs://bkt/p' });
    expect(r.problems).toEqual([
      { source: 'labels.csv:2', line: 2, reason: 'no image named "nowhere.jpg" in this dataset' },
      { source: 'labels.csv:3', line: 3, reason: 'unknown class "street" (classes: sea, forest, glacier)' },
      { source: 'labels.csv:4', line: 4, reason: 'unknown ml_use "holdout" (expected training, validation or test)' },
      { source: 'labels.csv:5', line: 5, reason: 'image "train/sea/1.jpg" is already listed on line 1' },
      { source: 'labels.csv:6', line: 6, reason: 'no image named "1.jpg" in this dataset' },
      { source: 'labels.csv:7', line: 7, reason: '"gs://other/p/loose.jpg" is not under gs://bkt/p/' },
      { source: 'labels.csv:8', line: 8, reason: 'a quoted field is never closed' },
    ]);
    expect(() => importAction(r, 'person', 1)).toThrow(/7 problems and was not applied \(first: labels.csv:2: no image/);
    // Without a prefix, a bare file name shared by two images is ambiguous.
    const amb = importVertexCsv('gs://b/1.jpg,sea\n', 'a.csv', options);
    expect(amb.problems[0]!.reason).toMatch(/"1.jpg" could be any of 2 images/);
  });

  it('JSONL: a line that is not JSON, a bad ml_use, a missing URI', () => {
    const lines = [
      '{"imageGcsUri": "gs://b/loose.jpg", "classificationAnnotation": {"displayName": "sea"}}',
      '{oops',
      '{"imageGcsUri": "gs://b/pred/unlabelled.jpg", "dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use": "holdout"}}',
      '{"classificationAnnotation": {"displayName": "sea"}}',
      '[1, 2]',
      '{"imageGcsUri": "gs://b/test/x/1.jpg", "classificationAnnotation": {"displayName": "street"}}',
    ].join('\n');
    const r = importVertexJsonl(lines, 'l.jsonl', { images, classes });
    expect(r.problems.map((p) => [p.line, p.reason])).toEqual([
      [2, 'not valid JSON'],
      [3, 'unknown ml_use "holdout" (expected training, validation or test)'],
      [4, 'missing imageGcsUri (a gs:// URI)'],
      [5, 'missing imageGcsUri (a gs:// URI)'],
    ]);
    // Classes are not fixed here: the new class is offered, not refused.
    expect(r.newClasses).toEqual(['street']);
  });

  it('a path two images share is ambiguous on its own; each is named by path#id', () => {
    // The dataset names them `p` and `p#9`; the first is also `p#4`.
    const options = {
      images: ['train/sea/1.jpg', 'train/sea/1.jpg#9', 'train/sea/2.jpg'],
      classes: ['sea', 'forest'],
      aliases: { 'train/sea/1.jpg#4': 'train/sea/1.jpg' },
      ambiguous: { 'train/sea/1.jpg': ['train/sea/1.jpg#4', 'train/sea/1.jpg#9'] },
    };
    const bad = importPlainCsv('train/sea/1.jpg,sea\n/data/train/sea/1.jpg,sea\ntrain/sea/2.jpg,sea\n', 'l.csv', options);
    expect(bad.problems.map((p) => [p.line, p.reason])).toEqual([
      [1, '"train/sea/1.jpg" could be any of 2 images imported from the same path: name one as "train/sea/1.jpg#4" or "train/sea/1.jpg#9"'],
      [2, '"/data/train/sea/1.jpg" could be any of 2 images imported from the same path: name one as "train/sea/1.jpg#4" or "train/sea/1.jpg#9"'],
    ]);
    expect(() => importAction(bad, 'person', 1)).toThrow(/2 problems/);
    const good = importPlainCsv('train/sea/1.jpg#4,sea\ngs://b/x/train/sea/1.jpg#9,forest\n', 'l.csv', options);
    expect(good.problems).toEqual([]);
    expect(good.labels.map((l) => [l.image, l.label])).toEqual([
      ['train/sea/1.jpg', 'sea'],
      ['train/sea/1.jpg#9', 'forest'],
    ]);
  });

  it('plain CSV and zip problems', () => {
    const r = importPlainCsv('path,label,split\nloose.jpg,sea,holdout\n,sea\nloose.jpg\nloose.jpg, sea ,test,extra\ntest/x/1.jpg,  \n', 'p.csv', { images, classes });
    expect(r.problems.map((p) => [p.line, p.reason])).toEqual([
      [2, 'unknown split "holdout" (expected train, validation, test or unassigned)'],
      [3, 'expected an image path in the first column'],
      [4, 'expected path,label (a comma and the class, empty for unlabelled)'],
      [5, 'expected at most 3 columns (path,label,split), got 4'],
    ]);
    const padded = importPlainCsv('loose.jpg," sea"\n', 'p.csv', { images, classes });
    expect(padded.problems[0]!.reason).toMatch(/whitespace/);
    const zip = zipSync({ 'holdout/sea/1.jpg': strToU8('x'), 'train/sea/deep/1.jpg': strToU8('x'), 'train/street/loose.jpg': strToU8('x') });
    const z = importFolderZip(zip, 'z.zip', options);
    expect(z.problems.map((p) => [p.source, p.reason])).toEqual([
      ['holdout/sea/1.jpg', '"holdout" is not a split folder (train, validation, test or pred)'],
      ['train/sea/deep/1.jpg', 'expected <split>/<class>/<file> or <split>/<file>'],
      ['train/street/loose.jpg', 'unknown class "street" (classes: sea, forest, glacier)'],
    ]);
    expect(() => importFolderZip(strToU8('not a zip'), 'z.zip', options)).toThrow(/not a readable zip/);
  });
});

describe('label file formats', () => {
  it('tells formats by name and round-trips through the dispatcher', () => {
    expect(labelFileFormat('a.ZIP')).toBe('zip');
    expect(labelFileFormat('a.jsonl')).toBe('vertex-jsonl');
    expect(labelFileFormat('a.csv', 'training,gs://b/x.jpg,sea')).toBe('vertex-csv');
    expect(labelFileFormat('a.csv', '"gs://b/x.jpg",sea')).toBe('vertex-csv');
    expect(labelFileFormat('a.csv', 'path,label')).toBe('csv');
    expect(labelFileFormat('a.txt')).toBeNull();
    for (const format of LABEL_FILE_FORMATS) {
      const out = exportLabelFile(format, records, { gcsPrefix: 'gs://bkt/p', bytes });
      expect(applied(importLabelFile(format, 'f', out, { ...options, gcsPrefix: 'gs://bkt/p' }))).toEqual(records);
    }
    expect(() => exportLabelFile('vertex-csv', records)).toThrow(/gs:\/\/bucket\/prefix/);
    expect(() => exportLabelFile('zip', records)).toThrow(/image files/);
  });

  it('checks Cloud Storage locations', () => {
    expect(normalizeGcsPrefix('gs://my-bucket')).toBe('gs://my-bucket/');
    expect(normalizeGcsPrefix(' gs://my-bucket//a/b// ')).toBe('gs://my-bucket/a/b/');
    expect(() => normalizeGcsPrefix('s3://x/y')).toThrow(/not a Cloud Storage location/);
    expect(() => normalizeGcsPrefix('gs://My_Bucket!/y')).toThrow(/not a valid bucket name/);
  });
});
