// Progress output: human lines on stderr (so --json keeps stdout clean), timed steps.
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  step<T>(title: string, work: () => Promise<T>): Promise<T>;
}

const started = Date.now();

function stamp(): string {
  return `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
}

export function consoleLogger(opts: { quiet?: boolean } = {}): Logger {
  const out = (line: string) => {
    if (!opts.quiet) process.stderr.write(`${stamp()} ${line}\n`);
  };
  return {
    info: (msg) => out(msg),
    warn: (msg) => process.stderr.write(`${stamp()} warning: ${msg}\n`),
    async step(title, work) {
      const t0 = performance.now();
      out(`${title} …`);
      try {
        const result = await work();
        out(`${title} ✓ (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
        return result;
      } catch (err) {
        out(`${title} ✗ (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
        throw err;
      }
    },
  };
}

export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  step: (_t, work) => work(),
};
