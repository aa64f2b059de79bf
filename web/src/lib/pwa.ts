/**
 * Service-worker registration. A new version is never forced: the page shows a prompt, and
 * the prompt's button stays disabled while a run trains in this tab (reloading would cut the
 * epoch in progress).
 */
import { registerSW } from 'virtual:pwa-register';
import type { AppState } from './app.svelte';

let apply: ((reload?: boolean) => Promise<void>) | null = null;

export function registerServiceWorker(app: AppState): void {
  if (!('serviceWorker' in navigator)) return;
  apply = registerSW({
    immediate: true,
    onNeedRefresh() {
      app.updateReady = true;
    },
    onRegisterError(e: unknown) {
      console.warn('service worker registration failed', e);
    },
  });
}

/** Activates the waiting version and reloads; refused while training. */
export async function applyUpdate(app: AppState): Promise<void> {
  if (app.training || !apply) return;
  await apply(true);
}
