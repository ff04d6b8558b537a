// API errors with Toxiproxy's messages and status codes, and a small JSON field
// reader that reports type errors the way Go's encoding/json does.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toJSON(): { error: string; status: number } {
    return { error: this.message, status: this.status };
  }
}

export const Errors = {
  badBody: (detail: string) => new ApiError(`bad request body: ${detail}`, 400),
  missingField: (detail: string) => new ApiError(`missing required field: ${detail}`, 400),
  proxyNotFound: () => new ApiError('proxy not found', 404),
  proxyExists: () => new ApiError('proxy already exists', 409),
  invalidStream: () => new ApiError('stream was invalid, can be either upstream or downstream', 400),
  invalidToxicType: () => new ApiError('invalid toxic type', 400),
  toxicExists: () => new ApiError('toxic already exists', 409),
  toxicNotFound: () => new ApiError('toxic not found', 404),
  /** Errors without an API status (listen failures, ...) are 500s in Toxiproxy. */
  internal: (message: string) => new ApiError(message, 500),
};

/** Parse a request body like json.NewDecoder(body).Decode(&v): empty body is "EOF". */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw Errors.badBody('EOF');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw Errors.badBody((err as Error).message);
  }
}

export function asObject(value: unknown, goType: string): Record<string, unknown> {
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw Errors.badBody(`json: cannot unmarshal ${JsonShape.kind(value)} into Go value of type ${goType}`);
  }
  return value as Record<string, unknown>;
}

/**
 * Typed access to a decoded JSON object. Keys match exactly first, then
 * case-insensitively (Go's rule); `null` counts as absent.
 */
export class JsonShape {
  constructor(
    private readonly obj: Record<string, unknown>,
    private readonly goStruct: string,
    private readonly prefix = '',
  ) {}

  static kind(v: unknown): string {
    if (v === null) return 'null';
    if (Array.isArray(v)) return 'array';
    if (typeof v === 'boolean') return 'bool';
    return typeof v; // string, number, object
  }

  raw(key: string): unknown {
    if (Object.prototype.hasOwnProperty.call(this.obj, key)) return this.obj[key];
    const lower = key.toLowerCase();
    for (const k of Object.keys(this.obj)) if (k.toLowerCase() === lower) return this.obj[k];
    return undefined;
  }

  private fail(key: string, v: unknown, goType: string): never {
    const what = typeof v === 'number' ? `number ${v}` : JsonShape.kind(v);
    const field = this.goStruct ? `${this.goStruct}.${this.prefix}${key}` : `${this.prefix}${key}`;
    throw Errors.badBody(`json: cannot unmarshal ${what} into Go struct field ${field} of type ${goType}`);
  }

  string(key: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.fail(key, v, 'string');
    return v;
  }

  bool(key: string): boolean | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(key, v, 'bool');
    return v;
  }

  int(key: string, goType: string): number | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(key, v, goType);
    return v;
  }

  float(key: string, goType: string): number | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number') this.fail(key, v, goType);
    return v;
  }

  /** halab extension field `duration_ms`: a non-negative number of milliseconds. */
  durationMs(): number | undefined {
    const v = this.float('duration_ms', 'int64');
    if (v !== undefined && (v < 0 || !Number.isFinite(v))) {
      throw Errors.badBody(`duration_ms must be a non-negative number of milliseconds, got ${v}`);
    }
    return v;
  }
}
