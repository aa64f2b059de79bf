/** User settings, kept in the `settings` store of the app's IndexedDB database. */
import type { BackendPreference } from '../engine/types';
import { openDb, type Db } from '../engine/store-schema';

export interface Settings {
  /** `auto` tries WebGPU → WebGL → WASM → CPU. */
  backend: BackendPreference;
  activeModelId: string | null;
  /** Ask the server when the on-device answer is less sure than `cloudThreshold`. */
  cloudFallback: boolean;
  cloudThreshold: number;
}

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  backend: 'auto',
  activeModelId: null,
  cloudFallback: false,
  cloudThreshold: 0.6,
});

const BACKENDS: readonly BackendPreference[] = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'];

export function isBackendPreference(v: unknown): v is BackendPreference {
  return typeof v === 'string' && (BACKENDS as readonly string[]).includes(v);
}

let dbPromise: Promise<Db> | null = null;
const db = (): Promise<Db> => (dbPromise ??= openDb());

export async function loadSettings(): Promise<Settings> {
  const rows = await (await db()).getAll('settings');
  const s: Settings = { ...DEFAULT_SETTINGS };
  for (const { key, value } of rows) {
    if (key === 'backend' && isBackendPreference(value)) s.backend = value;
    if (key === 'activeModelId' && (typeof value === 'string' || value === null)) s.activeModelId = value;
    if (key === 'cloudFallback' && typeof value === 'boolean') s.cloudFallback = value;
    if (key === 'cloudThreshold' && typeof value === 'number') s.cloudThreshold = value;
  }
  return s;
}

export async function saveSetting<K extends keyof Settings>(key: K, value: Settings[K]): Promise<void> {
  await (await db()).put('settings', { key, value });
}
