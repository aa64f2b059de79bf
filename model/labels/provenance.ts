/**
 * Where an image's label came from. Every label change records who made it, when, and what
 * the label was before, so a screen can show "suggested by the model, accepted" apart from
 * "labelled by hand", and a person can review what an automatic step did.
 */
import type { Split } from '../data/records';

/**
 * Who set a label: a `person` (by hand, or by importing a file they chose), a model's
 * `suggestion` the person accepted, or a `cloud` labelling or prediction service.
 */
export type LabelSource = 'person' | 'suggestion' | 'cloud';

/** All label sources, for validation and menus. */
export const LABEL_SOURCES: readonly LabelSource[] = ['person', 'suggestion', 'cloud'];

/** The last change to one image's label. */
export interface Provenance {
  source: LabelSource;
  /** Milliseconds since the epoch (`Date.now()`), passed in by the caller so reducers stay pure. */
  at: number;
  /** The label before this change (null: the image was unlabelled). */
  previous: string | null;
}

/** One image's labelling: its class (null: unlabelled), its split, and how the class was set (null: as imported with the dataset). */
export interface ImageLabel {
  label: string | null;
  split: Split;
  provenance: Provenance | null;
}

/** Whether two image labels are the same, provenance included. */
export function sameImageLabel(a: ImageLabel, b: ImageLabel): boolean {
  return (
    a.label === b.label &&
    a.split === b.split &&
    a.provenance?.source === b.provenance?.source &&
    a.provenance?.at === b.provenance?.at &&
    a.provenance?.previous === b.provenance?.previous
  );
}
