/**
 * Labelling, without DOM or Node: the order to ask for labels in (uncertainty), class-name
 * rules (SceneLab's and Vertex AI's), label provenance and an undoable labelling reducer,
 * and label files in and out (Vertex AI CSV/JSONL, plain CSV, folder zip).
 */
export * from './class-names';
export * from './csv';
export * from './folder-zip';
export * from './history';
export * from './image-match';
export * from './label-files';
export * from './label-import';
export * from './plain-csv';
export * from './provenance';
export * from './uncertainty';
export * from './vertex-files';
export * from './vertex-names';
