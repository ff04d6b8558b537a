// One long-lived `ip -force -batch -` that runs a node daemon's `ip` commands (erd's route moves).
// Forking `ip` from node costs a node capped at 0.1 cores whole CFS periods: in a 0.1-core
// container a route replace took 66 ms median, 194 ms max through execFileSync, against 0.7 ms and
// 3.5 ms as a line written to a running `ip -batch` (20 each, 2026-12-06). On has-4 the route move
// was most of erd's detection time (32–301 ms of 71–432 ms).
//
// Each command is followed by a marker command whose output is known (`link show dev lo`): the
// command is done when the marker's line arrives on stdout, and it failed when `ip` wrote to
// stderr before that (with -force, `ip` reports a failed command there and goes on). When the
// child is gone or does not answer in time, the command runs through its own `ip` process instead.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';

const MARKER = 'link show dev lo';
/** `ip link show dev lo` prints "1: lo: <LOOPBACK,…" (lo is always index 1 in a netns). */
const MARKER_LINE = /^\d+: lo: /m;

/** Run `ip args` in its own process; false when it failed. */
function ipOnce(args: string[]): boolean {
  try {
    execFileSync('ip', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export class IpBatch {
  private child: ChildProcess | undefined;
  private out = '';
  private err = '';
  private waiting: ((ok: boolean | undefined) => void) | undefined;
  /** Which command the output belongs to: a late callback for the previous one must not settle the next. */
  private seq = 0;
  private markerSeen = false;
  private queue: Promise<unknown> = Promise.resolve();

  /** Starts `ip` at once, so the first command does not pay for the spawn. */
  constructor(private readonly timeoutMs = 2000) {
    this.child = this.start();
  }

  /** Run one `ip` command (its arguments, without `ip`); true when it succeeded. Commands run in order. */
  run(args: string[]): Promise<boolean> {
    const next = this.queue.then(() => this.runNow(args));
    this.queue = next.catch(() => undefined);
    return next;
  }

  close(): void {
    const child = this.child;
    this.child = undefined;
    child?.kill();
  }

  private start(): ChildProcess {
    // -o: the marker's answer is one line
    const child = spawn('ip', ['-o', '-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    // A child closed after a timeout may still answer: only the current child's output counts.
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (this.child !== child) return;
      this.out += d;
      if (!this.markerSeen && MARKER_LINE.test(this.out)) {
        this.markerSeen = true;
        const seq = this.seq;
        // stderr written before the marker may still be queued behind this callback
        setImmediate(() => {
          if (seq === this.seq) this.settle(this.err.trim() === '');
        });
      }
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (this.child === child) this.err += d;
    });
    child.stdin?.on('error', () => {}); // a dead child: 'exit' below settles the command
    child.on('error', () => {});
    child.on('exit', () => {
      // only the current child's death fails the command in flight; one closed earlier is past
      if (this.child !== child) return;
      this.child = undefined;
      this.settle(undefined);
    });
    return child;
  }

  /** ok: the command's outcome; undefined: the child failed us (the caller falls back). */
  private settle(ok: boolean | undefined): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.(ok);
  }

  private async runNow(args: string[]): Promise<boolean> {
    this.child ??= this.start();
    this.seq++;
    this.markerSeen = false;
    this.out = '';
    this.err = '';
    const answer = new Promise<boolean | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        this.close(); // no answer in time: start afresh next time
        resolve(undefined);
      }, this.timeoutMs);
      this.waiting = (ok) => {
        clearTimeout(timer);
        resolve(ok);
      };
    });
    this.child.stdin?.write(`${args.join(' ')}\n${MARKER}\n`);
    const ok = await answer;
    return ok ?? ipOnce(args);
  }
}
