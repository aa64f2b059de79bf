// Entry point of the SceneLab server: `npm run serve` (tsx compiles the TypeScript on load).
import { startServer } from './app';
import { startupBanner } from './banner';
import { loadConfig, type ServerConfig } from './config';
import { ConfigError } from './errors';
import { LocalPredictor } from './predict/local';

async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = loadConfig(process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`scenelab server: configuration error: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, {
      onFatal: (err) => {
        process.stderr.write(`scenelab server: ${err.message}\n`);
        void server.close().finally(() => process.exit(1));
      },
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === 'EADDRINUSE' ? ` (port ${config.port} is in use: set SCENELAB_PORT)` : err.code === 'EACCES' ? ` (not allowed to listen on ${config.host}:${config.port})` : '';
    process.stderr.write(`scenelab server: cannot start: ${err.message}${hint}\n`);
    process.exit(1);
  }
  process.stdout.write(startupBanner(server, config) + '\n');
  server.app.log.info({ url: server.url, storage: server.store.kind, prediction: server.predictor.source, container: config.container !== undefined }, 'server started');
  await server.modelLoaded;
  if (server.predictor instanceof LocalPredictor) {
    const model = server.predictor.activeModel;
    process.stdout.write(
      model
        ? `  model:      ${model.id} (${model.arch}, ${model.classes} classes)\n`
        : '  model:      none yet: upload a model bundle under models/ (see server/README.md) or set SCENELAB_MODEL\n',
    );
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    server.app.log.info(`${signal}: closing`);
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
