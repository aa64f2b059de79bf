import type { FastifyInstance } from 'fastify';
import type { ServerConfig } from '../config';
import { HttpError } from '../errors';
import type { ServerMetrics } from '../metrics';
import { parseInstances, predictBodySchema, type PredictBody } from './instances';
import type { PredictOutcome, Predictor } from './types';

/**
 * The prediction broker. `/api/predict` answers `{predictions, source, model}`; the Vertex AI
 * container routes (`AIP_PREDICT_ROUTE`, `AIP_HEALTH_ROUTE`) answer exactly what Vertex
 * expects: `{predictions}`, and 200 on health only once a model is loaded.
 */
export async function predictRoutes(app: FastifyInstance, opts: { config: ServerConfig; predictor: Predictor; metrics: ServerMetrics }): Promise<void> {
  const { config, predictor, metrics } = opts;

  const run = async (body: PredictBody): Promise<PredictOutcome> => {
    try {
      const instances = await parseInstances(body, config.limits);
      const outcome = await predictor.predict(instances);
      metrics.predictions.inc({ source: outcome.source }, outcome.predictions.length);
      return outcome;
    } catch (e) {
      metrics.predictionErrors.inc({ source: predictor.source, code: e instanceof HttpError ? e.code : 'internal' });
      throw e;
    }
  };

  app.post<{ Body: PredictBody }>(
    '/api/predict',
    { schema: { body: predictBodySchema }, config: { rateLimit: { max: config.rateLimits.predict, timeWindow: 60_000 } } },
    async (req) => run(req.body),
  );

  const container = config.container;
  if (container) {
    if (container.predictRoute !== '/api/predict') {
      app.post<{ Body: PredictBody }>(container.predictRoute, { schema: { body: predictBodySchema } }, async (req) => {
        const { predictions } = await run(req.body);
        return { predictions };
      });
    }
    app.get(container.healthRoute, async (_req, reply) => {
      const ready = predictor.ready();
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'loading', ...predictor.status() });
    });
  }
}
