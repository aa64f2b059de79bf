/**
 * Finds which of a dataset's images a line of a label file means. A file written by SceneLab
 * names images exactly; a file from elsewhere names them by a longer or shorter path
 * (`gs://bucket/scenes/train/forest/1.jpg` for the image `train/forest/1.jpg`), so images are
 * matched on the longest run of trailing path components they share with the reference.
 */

/** The image a reference means, or why there is none. */
export type ImageMatch = { image: string } | { error: string };

/** Path components, with Windows separators and `./` read as in a POSIX path. */
function components(path: string): string[] {
  return path
    .replace(/\\/g, '/')
    .split('/')
    .filter((p) => p !== '' && p !== '.');
}

/** Matches references to a fixed set of image names. */
export class ImageMatcher {
  private readonly exact: Set<string>;
  private readonly byFile = new Map<string, string[][]>();

  constructor(images: readonly string[]) {
    this.exact = new Set(images);
    for (const name of images) {
      const parts = components(name);
      const file = parts.at(-1);
      if (file === undefined) continue;
      const list = this.byFile.get(file) ?? [];
      list.push(parts);
      this.byFile.set(file, list);
    }
  }

  /** The image named exactly `ref`. */
  exactly(ref: string): ImageMatch {
    return this.exact.has(ref) ? { image: ref } : { error: `no image named "${ref}" in this dataset` };
  }

  /**
   * The image `ref` names: the image of that exact name, else the one image sharing the most
   * trailing path components with it (at least the file name). Two images sharing equally
   * many make the reference ambiguous.
   */
  match(ref: string): ImageMatch {
    if (this.exact.has(ref)) return { image: ref };
    const parts = components(ref);
    const candidates = this.byFile.get(parts.at(-1) ?? '') ?? [];
    if (candidates.length === 0) return { error: `no image named "${ref}" in this dataset` };
    let best: string[][] = [];
    let bestShared = 0;
    for (const cand of candidates) {
      let shared = 0;
      while (shared < cand.length && shared < parts.length && cand[cand.length - 1 - shared] === parts[parts.length - 1 - shared]) shared++;
      if (shared > bestShared) {
        best = [cand];
        bestShared = shared;
      } else if (shared === bestShared) best.push(cand);
    }
    if (best.length > 1) return { error: `"${ref}" could be any of ${best.length} images (${best.slice(0, 3).map((b) => b.join('/')).join(', ')}${best.length > 3 ? ', …' : ''})` };
    return { image: this.original(best[0]!) };
  }

  /** The dataset's own spelling of a name found by its components. */
  private original(parts: string[]): string {
    const joined = parts.join('/');
    if (this.exact.has(joined)) return joined;
    for (const name of this.exact) if (components(name).join('/') === joined) return name;
    return joined;
  }
}
