import sharp from 'sharp';
import { HttpError } from '../errors';
import { sniffImageType } from '../storage/content';
import type { ImageInstance } from './types';

/** The TorchServe / Vertex AI request body: `{"instances": [{"data": {"b64": "<image>"}}, …]}`. */
export interface PredictBody {
  instances: Array<{ data: { b64: string } }>;
  /** Accepted for compatibility with Vertex clients, and ignored: clients do not tune the model. */
  parameters?: Record<string, unknown>;
}

/** JSON schema of the body; Fastify validates it before the handler runs. */
export const predictBodySchema = {
  type: 'object',
  required: ['instances'],
  additionalProperties: false,
  properties: {
    instances: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['data'],
        additionalProperties: false,
        properties: {
          data: {
            type: 'object',
            required: ['b64'],
            additionalProperties: false,
            properties: { b64: { type: 'string', minLength: 1 } },
          },
        },
      },
    },
    parameters: { type: 'object' },
  },
} as const;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/** Limits on what the predictor will decode. */
export interface InstanceLimits {
  maxInstances: number;
  maxImagePixels: number;
}

/**
 * Turns the request's instances into checked images: strict base64, a known image type by
 * magic bytes, and dimensions (read from the header, without decoding) within the pixel
 * limit, so a small file that expands to gigabytes of pixels is refused before decoding.
 */
export async function parseInstances(body: PredictBody, limits: InstanceLimits): Promise<ImageInstance[]> {
  if (body.instances.length > limits.maxInstances) {
    throw new HttpError(400, 'too_many_instances', `${body.instances.length} instances in one request; the limit is ${limits.maxInstances}`);
  }
  return Promise.all(
    body.instances.map(async ({ data: { b64 } }, i): Promise<ImageInstance> => {
      const where = `instances[${i}]`;
      // Buffer.from(…, 'base64') skips characters it does not know; check the alphabet first
      // so a corrupted payload is reported rather than decoded into garbage.
      const compact = b64.replace(/\s+/g, '');
      if (!BASE64.test(compact)) throw new HttpError(400, 'invalid_base64', `${where}.data.b64 is not valid base64`);
      const bytes = new Uint8Array(Buffer.from(compact, 'base64'));
      if (bytes.length === 0) throw new HttpError(400, 'empty_image', `${where}.data.b64 decodes to no bytes`);
      const type = sniffImageType(bytes.subarray(0, 64));
      if (!type) throw new HttpError(415, 'not_an_image', `${where} is not an image: the bytes match none of JPEG, PNG, WebP, GIF or BMP`);
      let width: number | undefined;
      let height: number | undefined;
      try {
        // metadata() parses the header only; no pixels are decoded here.
        ({ width, height } = await sharp(bytes, { limitInputPixels: false }).metadata());
      } catch (e) {
        throw new HttpError(422, 'undecodable_image', `${where}: cannot read the ${type} header (${(e as Error).message.split('\n')[0]})`);
      }
      if (!width || !height) throw new HttpError(422, 'undecodable_image', `${where}: the ${type} header has no dimensions`);
      if (width * height > limits.maxImagePixels) {
        throw new HttpError(
          413,
          'image_too_large',
          `${where} is ${width}x${height} (${((width * height) / 1e6).toFixed(1)} MP); the limit is ${(limits.maxImagePixels / 1e6).toFixed(1)} MP: resize it before sending`,
        );
      }
      return { b64: compact, bytes, type, width, height };
    }),
  );
}
