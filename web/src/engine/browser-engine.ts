/**
 * The engine as the browser runs it (inside the worker): IndexedDB store, `createImageBitmap`
 * decoding, the backend selector, replica workers and Web Locks.
 */
import { currentBackend, onDeviceLost, selectBackend } from './backend';
import { decodeImage, modelCopy } from './images';
import { LocalEngine, type Locks } from './local-engine';
import { browserReplicas } from './replicas';

const locks: Locks | undefined =
  typeof navigator !== 'undefined' && 'locks' in navigator
    ? {
        request: async <T,>(name: string, callback: () => Promise<T>): Promise<T> => {
          let out: { value: T } | null = null;
          await navigator.locks.request(name, async () => {
            out = { value: await callback() };
          });
          return out!.value;
        },
        held: async () => ((await navigator.locks.query()).held ?? []).map((l) => l.name ?? ''),
      }
    : undefined;

export function browserEngine(): LocalEngine {
  return new LocalEngine({
    decoder: { decode: decodeImage, modelCopy },
    backends: { select: selectBackend, current: currentBackend, onDeviceLost },
    replicas: browserReplicas,
    ...(locks && { locks }),
    storage: async () => {
      const { usage = 0, quota = 0 } = await navigator.storage.estimate();
      return { usage, quota, persisted: await navigator.storage.persisted() };
    },
  });
}
