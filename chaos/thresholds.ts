// k6-style thresholds: 'failover_ms.p95 < 200', 'failed_requests == 0', 'ok_rate >= 0.99'.
export interface Threshold {
  text: string;
  metric: string;
  op: '<' | '<=' | '>' | '>=' | '==' | '!=';
  value: number;
}

export function parseThreshold(text: string): Threshold {
  const m = /^\s*([a-z_][a-z0-9_.]*)\s*(<=|>=|==|!=|<|>)\s*(-?[\d.]+(?:e-?\d+)?)\s*$/i.exec(text);
  if (!m) throw new Error(`threshold '${text}' is not 'metric op number' (e.g. failover_ms.p95 < 200)`);
  return { text: text.trim(), metric: m[1]!, op: m[2] as Threshold['op'], value: Number(m[3]) };
}

export interface ThresholdResult extends Threshold {
  actual: number | null;
  pass: boolean;
}

export function evaluateThresholds(ts: Threshold[], metrics: Record<string, number | null>): ThresholdResult[] {
  return ts.map((t) => {
    const actual = metrics[t.metric] ?? null;
    const cmp = {
      '<': (a: number) => a < t.value,
      '<=': (a: number) => a <= t.value,
      '>': (a: number) => a > t.value,
      '>=': (a: number) => a >= t.value,
      '==': (a: number) => a === t.value,
      '!=': (a: number) => a !== t.value,
    }[t.op];
    return { ...t, actual, pass: actual !== null && Number.isFinite(actual) && cmp(actual) };
  });
}
