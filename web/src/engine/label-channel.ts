/**
 * Label changes told across tabs. Each tab has its own engine (its own worker); after a write
 * that changes a dataset's labels, the engine announces the dataset on a BroadcastChannel, and
 * a page showing that dataset reads its labels again. The engines themselves do not depend on
 * the message: each checks the dataset's `labelVersion` before it answers from its cache.
 */

const CHANNEL = 'scenelab-labels';

/** What the channel carries. */
export interface LabelsChanged {
  type: 'labels-changed';
  datasetId: string;
  /** The dataset's `labelVersion` after the write (a tab that already shows it has nothing to read). */
  version: number;
}

/** Tells every other context of this origin that a dataset's labels changed (a no-op where BroadcastChannel is missing). */
export function announceLabelsChanged(datasetId: string, version: number): void {
  if (typeof BroadcastChannel !== 'function') return;
  // A channel per message: nothing stays open to keep a Node process or a worker alive.
  const channel = new BroadcastChannel(CHANNEL);
  channel.postMessage({ type: 'labels-changed', datasetId, version } satisfies LabelsChanged);
  channel.close();
}

/** Calls `listener` with each dataset another context changed and its version after; returns the function that stops listening. */
export function onLabelsChanged(listener: (datasetId: string, version: number) => void): () => void {
  if (typeof BroadcastChannel !== 'function') return () => undefined;
  const channel = new BroadcastChannel(CHANNEL);
  channel.onmessage = (event: MessageEvent<unknown>) => {
    const data = event.data;
    if (typeof data !== 'object' || data === null || !('type' in data) || data.type !== 'labels-changed') return;
    if ('datasetId' in data && typeof data.datasetId === 'string' && 'version' in data && typeof data.version === 'number') listener(data.datasetId, data.version);
  };
  return () => channel.close();
}
