// Entry of the classifier worker thread: registers tsx (as bin/scenelab.js does) so the
// TypeScript handler loads without a build step, then starts it.
import { register } from 'tsx/esm/api';

register();
await import('./runner-worker.ts');
