import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config';
import type { TrainingJobs, TrainingRequest } from './jobs';

const runConfigSchema = {
  type: 'object',
  required: ['arch', 'preprocessing', 'valSplit', 'options'],
  additionalProperties: false,
  properties: {
    arch: { type: 'string', maxLength: 64 },
    preprocessing: { type: 'string', enum: ['auto', 'caffe-bgr', 'torchvision'] },
    valSplit: { type: 'number' },
    options: {
      type: 'object',
      required: ['freeze', 'batchSize', 'learningRate', 'epochs', 'optimizer', 'momentum', 'weightDecay', 'hflip', 'recalibrateBatchNorm', 'earlyStopping', 'seed'],
      additionalProperties: false,
      properties: {
        freeze: { type: 'boolean' },
        batchSize: { type: 'integer' },
        learningRate: { type: 'number' },
        epochs: { type: 'integer' },
        optimizer: { type: 'string', enum: ['adam', 'sgd'] },
        momentum: { type: 'number' },
        weightDecay: { type: 'number' },
        hflip: { type: 'boolean' },
        recalibrateBatchNorm: { type: 'boolean' },
        earlyStopping: {
          anyOf: [
            { type: 'null' },
            { type: 'object', required: ['patience', 'minDelta'], additionalProperties: false, properties: { patience: { type: 'integer' }, minDelta: { type: 'number' } } },
          ],
        },
        seed: { type: 'integer' },
      },
    },
  },
} as const;

const submitSchema = {
  type: 'object',
  required: ['name', 'dataset', 'weights', 'config'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    dataset: { type: 'string', minLength: 1, maxLength: 1024 },
    weights: { anyOf: [{ type: 'null' }, { type: 'string', minLength: 1, maxLength: 1024 }] },
    config: runConfigSchema,
  },
} as const;

const idSchema = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[a-z0-9-]{1,80}$' } } } as const;

/**
 * Vertex AI training for the app: `GET /api/training` says whether it is configured, the app
 * submits a run of a dataset it uploaded, and follows its jobs; the server holds the credentials.
 */
export async function trainingRoutes(app: FastifyInstance, opts: { config: ServerConfig; jobs: TrainingJobs | null }): Promise<void> {
  const { config, jobs } = opts;
  app.get('/api/training', async () =>
    jobs && config.training
      ? { available: true, region: config.training.region, machineType: config.training.machineType, accelerator: config.training.accelerator ?? null, replicas: config.training.replicas }
      : { available: false, reason: 'this server is not configured for Vertex AI training (SCENELAB_TRAINING_PROJECT)' },
  );
  if (!jobs) return;
  app.post<{ Body: TrainingRequest }>('/api/training/jobs', { schema: { body: submitSchema } }, async (req, reply) => reply.code(202).send(await jobs.submit(req.body)));
  app.get('/api/training/jobs', async () => ({ jobs: jobs.list() }));
  app.get<{ Params: { id: string } }>('/api/training/jobs/:id', { schema: { params: idSchema } }, async (req) => jobs.get(req.params.id));
  app.post<{ Params: { id: string } }>('/api/training/jobs/:id/cancel', { schema: { params: idSchema } }, async (req) => jobs.cancel(req.params.id));
}
