import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { Engine } from '../engine/types';
import { registered, updates } from '../test/pwa-register-stub';
import { AppState } from './app.svelte';
import { applyUpdate, registerServiceWorker } from './pwa';

describe('service worker updates', () => {
  it('are offered, and never applied while a run trains', async () => {
    Object.defineProperty(navigator, 'serviceWorker', { value: {}, configurable: true });
    const app = new AppState({} as Engine);
    registerServiceWorker(app);
    expect(registered).toHaveLength(1);
    registered[0]!.onNeedRefresh?.();
    expect(app.updateReady).toBe(true);

    app.training = true;
    await applyUpdate(app);
    expect(updates).toEqual([]);

    app.training = false;
    await applyUpdate(app);
    expect(updates).toEqual([true]);
  });
});
