import * as grpc from '@grpc/grpc-js';
import { fromProtoValue, toProtoValue, type Json, type ProtoValue } from '../../server/predict/proto-value';
import { aiplatformService, packAny } from './protos';

/** A call as the emulator received it. */
export interface RecordedCall {
  method: 'Predict' | 'UploadModel' | 'CreateEndpoint' | 'DeployModel';
  /** The request message (proto-loader form; `google.protobuf.Value`s already turned into JSON for Predict). */
  request: Record<string, unknown>;
  /** Request metadata (headers), single values. */
  metadata: Record<string, string>;
  /** Milliseconds between the call's arrival and its deadline, if it had one. */
  deadlineMs: number | undefined;
}

/** What a Predict answers: predictions, or a gRPC error. */
export type PredictBehaviour = (request: { endpoint: string; instances: Json[] }) =>
  | { predictions: Json[]; deployedModelId?: string }
  | { error: { code: grpc.status; details: string } }
  | { delayMs: number; then: { predictions: Json[]; deployedModelId?: string } };

/** A gRPC error with a status code, as grpc-js servers send them. */
const grpcError = (code: grpc.status, details: string): grpc.ServiceError => Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });

/**
 * A local gRPC emulator of `google.cloud.aiplatform.v1` PredictionService (Predict),
 * ModelService (UploadModel) and EndpointService (CreateEndpoint, DeployModel), built from
 * the protos inside `@google-cloud/aiplatform`. Long-running operations are answered as
 * done, with their results packed in `google.protobuf.Any` as Vertex AI does. Every call is
 * recorded so tests can assert the exact request.
 */
export class VertexEmulator {
  readonly calls: RecordedCall[] = [];
  /** Defaults to echoing `{label: "forest", probabilities: {…}}` per instance. */
  predict: PredictBehaviour = ({ instances }) => ({ predictions: instances.map(() => ({ label: 'forest', probabilities: { forest: 0.9, sea: 0.1 } })), deployedModelId: '1234' });
  private nextId = 1000;

  private constructor(
    private readonly server: grpc.Server,
    readonly port: number,
  ) {}

  /** `http://127.0.0.1:port`: pass as the client's API endpoint override (plaintext). */
  get address(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<VertexEmulator> {
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const emulator = new VertexEmulator(server, port);
    emulator.register();
    return emulator;
  }

  private record(method: RecordedCall['method'], call: grpc.ServerUnaryCall<Record<string, unknown>, unknown>, request: Record<string, unknown>): void {
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = Buffer.isBuffer(v) ? v.toString('base64') : v;
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() - Date.now() : Number.isFinite(deadline) ? Number(deadline) - Date.now() : undefined;
    this.calls.push({ method, request, metadata, deadlineMs });
  }

  private operation(kind: string, typeName: string, response: Record<string, unknown>): Record<string, unknown> {
    return { name: `${kind}/operations/${this.nextId++}`, done: true, response: packAny(typeName, response) };
  }

  private register(): void {
    type Unary = grpc.handleUnaryCall<Record<string, unknown>, Record<string, unknown>>;

    const predict: Unary = (call, callback) => {
      const req = call.request;
      const instances = ((req.instances as ProtoValue[] | undefined) ?? []).map(fromProtoValue);
      const endpoint = String(req.endpoint ?? '');
      this.record('Predict', call, { ...req, instances, ...(req.parameters ? { parameters: fromProtoValue(req.parameters as ProtoValue) } : {}) });
      const answer = this.predict({ endpoint, instances });
      const reply = (r: { predictions: Json[]; deployedModelId?: string }): void =>
        callback(null, { predictions: r.predictions.map(toProtoValue), deployedModelId: r.deployedModelId ?? '', model: '' });
      if ('error' in answer) callback(grpcError(answer.error.code, answer.error.details));
      else if ('delayMs' in answer) setTimeout(() => reply(answer.then), answer.delayMs).unref();
      else reply(answer);
    };

    const uploadModel: Unary = (call, callback) => {
      this.record('UploadModel', call, call.request);
      const parent = String(call.request.parent ?? '');
      const model = `${parent}/models/${this.nextId++}`;
      callback(null, this.operation(parent, 'UploadModelResponse', { model, modelVersionId: '1' }));
    };

    const createEndpoint: Unary = (call, callback) => {
      this.record('CreateEndpoint', call, call.request);
      const parent = String(call.request.parent ?? '');
      const ep = (call.request.endpoint ?? {}) as { displayName?: string };
      callback(null, this.operation(parent, 'Endpoint', { name: `${parent}/endpoints/${this.nextId++}`, displayName: ep.displayName ?? '' }));
    };

    const deployModel: Unary = (call, callback) => {
      this.record('DeployModel', call, call.request);
      const endpoint = String(call.request.endpoint ?? '');
      const dm = (call.request.deployedModel ?? {}) as { model?: string; displayName?: string };
      if (!dm.model) return callback(grpcError(grpc.status.INVALID_ARGUMENT, 'deployed_model.model is required'));
      callback(null, this.operation(endpoint, 'DeployModelResponse', { deployedModel: { id: String(this.nextId++), model: dm.model, displayName: dm.displayName ?? '' } }));
    };

    this.server.addService(aiplatformService('PredictionService'), { predict });
    this.server.addService(aiplatformService('ModelService'), { uploadModel });
    this.server.addService(aiplatformService('EndpointService'), { createEndpoint, deployModel });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
