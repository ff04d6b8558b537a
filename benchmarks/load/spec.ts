// What a load run asks for. Shared by the host side (which installs and starts the generator in
// the client node) and the generator itself (which runs there on the node's nodejs).

export interface LoadSpec {
  /** closed: N clients, each waits for its answer (WebBench); open: requests at a fixed arrival rate. */
  mode: 'closed' | 'open';
  /** Base URLs: plain and TLS (https), e.g. http://198.18.1.100 and https://198.18.1.100 */
  httpUrl: string;
  httpsUrl?: string;
  /** Share of requests over TLS (WebBench mix: 0.1). */
  tlsShare: number;
  /** Paths to request, picked uniformly by a seeded PRNG (the file set). */
  paths: string[];
  seed: number;
  /** closed mode: concurrent clients. */
  clients: number;
  /** open mode: requests per second, issued on schedule (latency counted from the scheduled time). */
  rate: number;
  /** Hard bounds: the run stops at whichever comes first. */
  durationSeconds: number;
  maxRequests: number;
  /** A request with no complete answer by then counts as a timeout. */
  timeoutMs: number;
  /** New TCP connection per request (probe style), or keep-alive. */
  keepAlive: boolean;
  /** Leading seconds excluded from the summary's throughput (warm-up). */
  warmupSeconds: number;
  /** Where the ledger is written inside the node. */
  ledgerPath: string;
}

export const DEFAULT_LOAD: Omit<LoadSpec, 'httpUrl' | 'paths' | 'ledgerPath'> = {
  mode: 'closed',
  tlsShare: 0,
  seed: 1,
  clients: 8,
  rate: 100,
  durationSeconds: 10,
  maxRequests: 1_000_000,
  timeoutMs: 2000,
  keepAlive: true,
  warmupSeconds: 1,
};

/** What the generator prints on stdout when done. */
export interface LoadResult {
  mode: LoadSpec['mode'];
  attempted: number;
  ok: number;
  failed: number;
  byOutcome: Record<string, number>;
  /** Requests per second completed ok, after warm-up. */
  okPerSecond: number;
  /** Latency of ok requests (ms): p50, p90, p99, max. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  bytes: number;
  servedBy: Record<string, number>;
  seconds: number;
  /** CPU seconds the generator process used (user+system). */
  cpuSeconds: number;
}
