/**
 * Prometheus text-format metrics with no dependency: counters and histograms keyed by label
 * values. Label values come from route templates and fixed enums, never from raw URLs, so
 * the number of series stays bounded.
 */

type Labels = Readonly<Record<string, string>>;

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function labelString(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

const keyOf = (labels: Labels): string => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));

/** A monotonically increasing count per label set. */
export class Counter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const k = keyOf(labels);
    const entry = this.values.get(k);
    if (entry) entry.value += by;
    else this.values.set(k, { labels: { ...labels }, value: by });
  }

  /** The current value for a label set (0 when never incremented). */
  get(labels: Labels = {}): number {
    return this.values.get(keyOf(labels))?.value ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${labelString(labels)} ${value}`);
    return lines.join('\n');
  }
}

/** Observations in cumulative buckets, with their sum and count. */
export class Histogram {
  private readonly values = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  observe(labels: Labels, value: number): void {
    const k = keyOf(labels);
    let entry = this.values.get(k);
    if (!entry) {
      entry = { labels: { ...labels }, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
      this.values.set(k, entry);
    }
    this.buckets.forEach((b, i) => {
      if (value <= b) entry.counts[i]!++;
    });
    entry.sum += value;
    entry.count++;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { labels, counts, sum, count } of this.values.values()) {
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${labelString(labels, ['le', String(b)])} ${counts[i]}`));
      lines.push(`${this.name}_bucket${labelString(labels, ['le', '+Inf'])} ${count}`);
      lines.push(`${this.name}_sum${labelString(labels)} ${sum}`);
      lines.push(`${this.name}_count${labelString(labels)} ${count}`);
    }
    return lines.join('\n');
  }
}

/** The server's metrics. */
export class ServerMetrics {
  readonly requests = new Counter('scenelab_http_requests_total', 'HTTP requests by route template, method and status code.');
  readonly latency = new Histogram('scenelab_http_request_duration_seconds', 'HTTP request latency by route template, method and status code.', [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
  ]);
  readonly predictions = new Counter('scenelab_predictions_total', 'Images classified, by the source that answered (local or vertex).');
  readonly predictionErrors = new Counter('scenelab_prediction_errors_total', 'Failed prediction requests by source and error code.');
  readonly signedUrls = new Counter('scenelab_signed_urls_total', 'Signed URLs issued, by operation (read or write) and store (local or gcs).');
  readonly uploads = new Counter('scenelab_local_uploads_total', 'Uploads to the embedded bucket by result (stored or refused).');
  private readonly started = Date.now();

  /** The whole exposition, `text/plain; version=0.0.4`. */
  render(): string {
    const uptime = [
      '# HELP scenelab_uptime_seconds Seconds since the server started.',
      '# TYPE scenelab_uptime_seconds gauge',
      `scenelab_uptime_seconds ${(Date.now() - this.started) / 1000}`,
    ].join('\n');
    return [this.requests, this.latency, this.predictions, this.predictionErrors, this.signedUrls, this.uploads].map((m) => m.render()).concat(uptime).join('\n') + '\n';
  }
}
