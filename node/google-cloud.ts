/**
 * Google Cloud helpers the CLI and the server share: client options for Vertex AI (a region's
 * endpoint, another TLS endpoint, or a plaintext emulator), resource names and gs:// URIs.
 */
import { credentials, type ChannelCredentials } from '@grpc/grpc-js';

/** Options for a Vertex AI client: the regional endpoint, or a plaintext emulator given as `http://host:port`. */
export type VertexClientOptions = {
  apiEndpoint: string;
  port?: number;
  sslCreds?: ChannelCredentials;
  universeDomain?: string;
};

/**
 * Client options for a region. `override` is an operator setting (never a client's):
 * `host[:port]` for another TLS endpoint, `http://host:port` for a local emulator.
 */
export function vertexClientOptions(region: string, override?: string): VertexClientOptions {
  if (!override) return { apiEndpoint: `${region}-aiplatform.googleapis.com` };
  const plaintext = override.startsWith('http://');
  const u = new URL(plaintext || override.startsWith('https://') ? override : `https://${override}`);
  return {
    apiEndpoint: u.hostname.replace(/^\[|\]$/g, ''),
    ...(u.port ? { port: Number(u.port) } : {}),
    // Plaintext means an emulator: no credentials, and a fixed universe so the auth library
    // does not probe for a GCE metadata server.
    ...(plaintext ? { sslCreds: credentials.createInsecure(), universeDomain: 'googleapis.com' } : {}),
  };
}

/** The resource name of an endpoint. */
export function endpointName(project: string, region: string, endpointId: string): string {
  return `projects/${project}/locations/${region}/endpoints/${endpointId}`;
}
