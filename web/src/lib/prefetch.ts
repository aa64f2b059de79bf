/**
 * Decoded images ahead of the one on screen, so keyboard labelling never waits: the images
 * the queue will show next are read from the engine, given object URLs and decoded
 * (`HTMLImageElement.decode()`) before they are needed. An `<img>` given a URL already decoded
 * is `complete` at once; Chromium keeps the decoded pixels while an element holds the URL.
 */
import type { Engine } from '../engine/types';

interface Slot {
  url: string;
  /** Kept so the decoded pixels stay in the browser's image cache. */
  img: HTMLImageElement;
  ready: Promise<void>;
}

export class ImagePrefetcher {
  private readonly slots = new Map<number, Slot>();

  constructor(
    private readonly engine: Engine,
    private readonly datasetId: string,
    /** How many images are kept decoded (the ones ahead and a few behind for ←). */
    private readonly keep = 24,
  ) {}

  /** The object URL of an image already read, or null. */
  url(id: number): string | null {
    return this.slots.get(id)?.url ?? null;
  }

  /** Resolves once the image is decoded (reading it first when it is not here yet). */
  async load(id: number): Promise<string> {
    await this.want([id]);
    const slot = this.slots.get(id);
    if (!slot) throw new Error(`image #${id} is not in the dataset`);
    await slot.ready;
    return slot.url;
  }

  /**
   * Reads and decodes the given images (in order: the first is needed soonest), in one engine
   * call for the ones not here yet, and lets go of images outside the list past `keep`.
   */
  async want(ids: readonly number[]): Promise<void> {
    const missing = ids.filter((id) => !this.slots.has(id));
    if (missing.length > 0) {
      const { images } = await this.engine.images({ datasetId: this.datasetId, ids: missing, limit: missing.length, original: true });
      for (const image of images) {
        if (this.slots.has(image.id)) continue;
        const url = URL.createObjectURL(image.blob as Blob);
        const img = new Image();
        img.src = url;
        // A file the browser cannot decode still gets its slot; the <img> shows its alt text.
        const ready = img.decode().catch(() => undefined);
        this.slots.set(image.id, { url, img, ready });
      }
    }
    this.trim(new Set(ids));
  }

  private trim(wanted: Set<number>): void {
    const extra = this.slots.size - this.keep;
    if (extra <= 0) return;
    let dropped = 0;
    for (const [id, slot] of this.slots) {
      if (dropped >= extra) break;
      if (wanted.has(id)) continue;
      URL.revokeObjectURL(slot.url);
      this.slots.delete(id);
      dropped++;
    }
  }

  dispose(): void {
    for (const slot of this.slots.values()) URL.revokeObjectURL(slot.url);
    this.slots.clear();
  }
}
