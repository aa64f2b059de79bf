import { existsSync } from 'node:fs';
import path from 'node:path';
import type { RunningServer } from './app';
import type { ServerConfig } from './config';

/** The start-up message: where the server listens and whether each part runs locally or in the cloud. */
export function startupBanner(server: RunningServer, config: ServerConfig): string {
  const built = existsSync(path.join(config.webDir, 'index.html'));
  const lines = [
    `SceneLab server listening on ${server.url}${config.container ? ' (Vertex AI serving container)' : ''}`,
    `  app:        ${built ? `serving ${config.webDir}` : `not built (${config.webDir} missing): run npm run build`}`,
    `  storage:    ${server.store.kind === 'local' ? 'LOCAL' : 'CLOUD'}: ${server.store.describe()}`,
    `  prediction: ${server.predictor.source === 'local' ? 'LOCAL' : 'CLOUD'}: ${server.predictor.describe()}`,
    `  training:   ${config.training ? `CLOUD: Vertex AI custom training in ${config.training.project}/${config.training.region} (${config.training.machineType}), jobs under gs://${config.training.bucket}/${config.training.root}` : 'on the device only (set SCENELAB_TRAINING_PROJECT for Train in the cloud)'}`,
    `  auth:       ${config.token ? 'bearer token required on /api/' : 'no token (set SCENELAB_TOKEN before exposing the server)'}; bound to ${config.host}`,
  ];
  if (config.container) lines.push(`  container:  predict ${config.container.predictRoute}, health ${config.container.healthRoute}, model ${config.container.storageUri ?? '(SCENELAB_MODEL)'}`);
  return lines.join('\n');
}
