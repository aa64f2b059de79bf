import { mount } from 'svelte';
import App from './App.svelte';
import { startEngineWorker } from './engine/client';
import { AppState } from './lib/app.svelte';
import { registerServiceWorker } from './lib/pwa';
import './app.css';

const { engine } = startEngineWorker();
const app = new AppState(engine);
registerServiceWorker(app);
mount(App, { target: document.getElementById('app')!, props: { app } });
void app.start().catch((e: unknown) => app.fail(e));
// Exposed for tests and support: the state of the page, read-only by convention.
(window as unknown as { scenelab: AppState }).scenelab = app;
