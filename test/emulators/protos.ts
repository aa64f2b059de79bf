import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/**
 * The Vertex AI protos exactly as `@google-cloud/aiplatform` ships them (compiled to
 * protobufjs JSON), so the emulators speak the published protocol the client uses.
 */
const PROTOS_JSON = require.resolve('@google-cloud/aiplatform/build/protos/protos.json');

let cached: { grpcRoot: grpc.GrpcObject; root: protobuf.Root } | undefined;

/** gRPC service definitions and a protobufjs root for encoding `Any` payloads. */
export function aiplatformProtos(): { grpcRoot: grpc.GrpcObject; root: protobuf.Root } {
  if (!cached) {
    const json = require(PROTOS_JSON) as protobuf.INamespace;
    const definition = protoLoader.fromJSON(json, { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true });
    cached = { grpcRoot: grpc.loadPackageDefinition(definition), root: protobuf.Root.fromJSON(json) };
  }
  return cached;
}

/** A service constructor under `google.cloud.aiplatform.v1`. */
export function aiplatformService(name: 'PredictionService' | 'ModelService' | 'EndpointService' | 'JobService'): grpc.ServiceDefinition {
  const { grpcRoot } = aiplatformProtos();
  const v1 = ((((grpcRoot.google as grpc.GrpcObject).cloud as grpc.GrpcObject).aiplatform as grpc.GrpcObject).v1 as grpc.GrpcObject)[name] as grpc.ServiceClientConstructor;
  return v1.service;
}

/** `google.protobuf.Any` holding an aiplatform v1 message. */
export function packAny(typeName: string, value: Record<string, unknown>): { typeUrl: string; value: Buffer } {
  const type = aiplatformProtos().root.lookupType(`google.cloud.aiplatform.v1.${typeName}`);
  const problem = type.verify(value);
  if (problem) throw new Error(`${typeName}: ${problem}`);
  return { typeUrl: `type.googleapis.com/google.cloud.aiplatform.v1.${typeName}`, value: Buffer.from(type.encode(type.fromObject(value)).finish()) };
}
