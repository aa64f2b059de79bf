// Entry of a replica worker thread: registers tsx (as bin/scenelab.js does) so the TypeScript
// worker loads without a build step, then starts it.
import { register } from 'tsx/esm/api';

register();
await import('./replica-worker.ts');
