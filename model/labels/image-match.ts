/**
 * Finds which of a dataset's images a line of a label file means. A file written by SceneLab
 * names images exactly; a file from elsewhere names them by a longer or shorter path
 * (`gs://bucket/scenes/train/forest/1.jpg` for the image `train/forest/1.jpg`), so images are
 * matched on the longest run of trailing path components they share with the reference.
 * A path imported twice into one dataset names two images: the path alone is then ambiguous,
 * and each image is named by `path#id` instead.
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

/** Names besides the images' own: further names of images, and names that stand for several images. */
export interface ImageNames {
  /** Another exact name of an image → the image's name (`path#id` of the image named by its bare path). */
  aliases?: Readonly<Record<string, string>>;
  /** A name several images answer to (a path imported twice) → the names that tell them apart. */
  ambiguous?: Readonly<Record<string, readonly string[]>>;
}

/** Matches references to a fixed set of image names. */
export class ImageMatcher {
  private readonly exact: Set<string>;
  private readonly byFile = new Map<string, string[][]>();
  private readonly aliases: ReadonlyMap<string, string>;
  private readonly ambiguous: ReadonlyMap<string, readonly string[]>;

  constructor(images: readonly string[], names: ImageNames = {}) {
    this.aliases = new Map(Object.entries(names.aliases ?? {}));
    this.ambiguous = new Map(Object.entries(names.ambiguous ?? {}));
    const all = [...images, ...this.aliases.keys()];
    this.exact = new Set(all);
    for (const name of all) {
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
    return this.exact.has(ref) ? this.resolved(ref, ref) : { error: `no image named "${ref}" in this dataset` };
  }

  /** The image a found name means: through an alias, or an error when the name stands for several. */
  private resolved(ref: string, name: string): ImageMatch {
    const several = this.ambiguous.get(name);
    if (several) return { error: `"${ref}" could be any of ${several.length} images imported from the same path: name one as ${several.map((n) => `"${n}"`).join(' or ')}` };
    return { image: this.aliases.get(name) ?? name };
  }

  /**
   * The image `ref` names: the image of that exact name, else the one image sharing the most
   * trailing path components with it (at least the file name). Two images sharing equally
   * many make the reference ambiguous.
   */
  match(ref: string): ImageMatch {
    if (this.exact.has(ref)) return this.resolved(ref, ref);
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
    return this.resolved(ref, this.original(best[0]!));
  }

  /** The dataset's own spelling of a name found by its components. */
  private original(parts: string[]): string {
    const joined = parts.join('/');
    if (this.exact.has(joined)) return joined;
    for (const name of this.exact) if (components(name).join('/') === joined) return name;
    return joined;
  }
}
