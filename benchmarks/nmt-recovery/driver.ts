// Driving an NMT lab for the recovery benchmark and the integration test: the real clients (probe
// daemon in the client node), the monitor's state and timing, faults through the chaos engine's
// fault kinds (journalled before they act, undone after), and the run's records (agent and
// monitor events from every host, the probe's lines).
import type { DockerBackend } from '../../lab/backends/docker/docker-backend.ts';
import type { LabPlan } from '../../lab/topology/types.ts';
import type { Logger } from '../../lab/util/log.ts';
import { silentLogger } from '../../lab/util/log.ts';
import { labStateDir } from '../../lab/util/paths.ts';
import { installDaemon, putFile, startDaemon, stopDaemon } from '../../lab/stacks/node-files.ts';
import { nmtConfig, type NmtConfig, type ServiceName, type TIMING_KEYS } from '../../lab/stacks/nmt/config.ts';
import { nmtStack } from '../../lab/stacks/nmt/index.ts';
import type { Health, Placement } from '../../lab/stacks/nmt/schedule.ts';
import { FAULT_KINDS } from '../../chaos/faults/index.ts';
import { recordPending, recordUndone, type Inverse } from '../../chaos/journal.ts';
import { undo } from '../../chaos/rollback.ts';
import { parseJsonl, type RunEvent } from '../ledger.ts';
import type { ProbeLine } from './figures.ts';

const DAEMONS = new URL('../../lab/stacks/nmt/daemons/', import.meta.url).pathname;
const PROBE_LOG = '/var/log/halab/nmt-probe.jsonl';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface MonitorState {
  node: string;
  placement: Placement;
  health: Record<string, Health>;
  /** Why a host is not ok: "no ping", "cpu 0.95", "no status (2 in a row)". */
  why?: Record<string, string>;
  ticks: number;
  monitorIntervalS: number;
}

export type Timing = Pick<NmtConfig, (typeof TIMING_KEYS)[number]>;

export interface AppliedFault {
  id: string;
  kind: string;
  target: string;
  at: number;
  inverse: Inverse;
}

let faultSeq = 0;

export class NmtLab {
  readonly cfg: NmtConfig;
  readonly client: string;

  constructor(
    readonly backend: DockerBackend,
    readonly plan: LabPlan,
    readonly log: Logger,
  ) {
    this.cfg = nmtConfig(plan);
    if (!this.cfg.client) throw new Error(`lab ${plan.lab} has no node of role client`);
    this.client = this.cfg.client.name;
  }

  get lab(): string {
    return this.plan.lab;
  }

  service(name: ServiceName) {
    return this.cfg.services.find((s) => s.name === name)!;
  }

  private async curl(url: string, body?: unknown): Promise<string | undefined> {
    const args = ['curl', '-s', '-f', '-m', '3', url];
    if (body !== undefined) args.push('-H', 'content-type: application/json', '-d', JSON.stringify(body));
    const r = await this.backend.exec(this.lab, this.client, args, { check: false });
    return r.exitCode === 0 ? r.stdout : undefined;
  }

  /** The monitor's view, asked at the monitor's service IP (whoever holds it). */
  async monitorState(): Promise<MonitorState | undefined> {
    const out = await this.curl(`http://${this.service('monitor').ip}:${this.cfg.monitorPort}/state`);
    return out ? (JSON.parse(out) as MonitorState) : undefined;
  }

  private timing: Timing | undefined;

  async setTiming(t: Timing): Promise<void> {
    this.timing = t;
    for (let i = 0; i < 40; i++) {
      if (await this.curl(`http://${this.service('monitor').ip}:${this.cfg.monitorPort}/config`, t)) return;
      await sleep(500);
    }
    throw new Error('the monitor did not take the new timing');
  }

  /** (Re)start the real clients: every service, one request per interval each. */
  async startProbe(intervalMs: number, timeoutMs: number): Promise<void> {
    const argv = await installDaemon(this.backend, this.lab, this.client, 'nmt-probe', `${DAEMONS}probe.ts`);
    const spec = { targets: this.cfg.services.map((s) => ({ service: s.name, ip: s.ip })), intervalMs, timeoutMs };
    await stopDaemon(this.backend, this.lab, this.client, 'nmt-probe');
    await putFile(this.backend, this.lab, this.client, '/etc/nmt/probe.json', JSON.stringify(spec));
    await startDaemon(this.backend, this.lab, this.client, { name: 'nmt-probe', argv: [...argv, '/etc/nmt/probe.json'] });
  }

  async stopProbe(): Promise<void> {
    await stopDaemon(this.backend, this.lab, this.client, 'nmt-probe');
  }

  async probeLines(since = 0, tail = 0): Promise<ProbeLine[]> {
    const cmd = tail ? ['tail', '-n', String(tail), PROBE_LOG] : ['cat', PROBE_LOG];
    const r = await this.backend.exec(this.lab, this.client, cmd, { check: false });
    return parseJsonl<ProbeLine>(r.stdout).filter((l) => l.t >= since);
  }

  /** Every host's nmt events since `since` (a node that is down contributes nothing). */
  async events(since = 0): Promise<RunEvent[]> {
    const all = await Promise.all(
      this.cfg.hosts.map(async (h) => {
        const r = await this.backend.exec(this.lab, h.name, ['cat', '/var/log/halab/events.jsonl'], { check: false }).catch(() => undefined);
        return parseJsonl<RunEvent>(r?.stdout ?? '').filter((e) => e.t >= since && e.source === 'nmt');
      }),
    );
    return all.flat().sort((a, b) => a.t - b.t);
  }

  /**
   * Steady: the monitor answers, every service has a secondary, every placed host is healthy, and
   * the last probe line of every service is ok.
   */
  async waitSteady(timeoutMs: number): Promise<MonitorState> {
    const end = Date.now() + timeoutMs;
    let why = '';
    for (;;) {
      const st = await this.monitorState();
      if (!st) why = 'the monitor does not answer';
      else {
        const a = Object.entries(st.placement).find(([, x]) => !x?.secondary || st.health[x.primary] !== 'ok' || st.health[x.secondary] !== 'ok');
        if (a) why = `${a[0]}: ${JSON.stringify(a[1])} health ${JSON.stringify(st.health)}${st.why ? ` why ${JSON.stringify(st.why)}` : ''}`;
        else {
          const lines = await this.probeLines(0, 200);
          const bad = this.cfg.services.find((s) => lines.filter((l) => l.service === s.name).at(-1)?.ok !== true);
          if (!bad) return st;
          why = `${bad.name} is not answering the probe`;
        }
      }
      if (Date.now() > end) throw new Error(`lab ${this.lab} not steady within ${timeoutMs} ms: ${why}`);
      await sleep(300);
    }
  }

  /** A chaos fault kind on a target, its inverse journalled first. */
  async applyFault(kind: string, target: string, params: Record<string, unknown> = {}): Promise<AppliedFault> {
    const k = FAULT_KINDS[kind];
    if (!k) throw new Error(`unknown fault kind ${kind}`);
    const id = `nmt${Date.now().toString(36)}${(faultSeq++).toString(36)}`;
    const prepared = k.prepare({ backend: this.backend, lab: this.lab, plan: this.plan, id }, target, params);
    recordPending(this.lab, { id, kind, target, inverse: prepared.inverse });
    const at = Date.now();
    await prepared.act();
    return { id, kind, target, at, inverse: prepared.inverse };
  }

  /** Undo a fault; a restarted node gets its agent back (the stack's deploy is idempotent). */
  async undoFault(f: AppliedFault): Promise<void> {
    await this.undoFaults([f]);
  }

  /** Undo faults, all of them before one redeploy (the deploy reaches every host). */
  async undoFaults(fs: AppliedFault[]): Promise<void> {
    for (const f of fs) {
      await undo(this.backend, this.lab, f.inverse);
      recordUndone(this.lab, f.id);
    }
    const restarted = fs.flatMap((f) => (f.inverse.type === 'node-start' ? [f.inverse.node] : []));
    if (restarted.length) {
      await nmtStack.deploy({ plan: this.plan, backend: this.backend, log: silentLogger, stateDir: labStateDir(this.lab), restarted });
      // The restarted agent read the topology's timing: give it the run's again.
      if (this.timing) await this.setTiming(this.timing);
    }
  }

  /** Every host's halab logs (/var/log/halab/*.log), by node and file name; a node that is down gives none. */
  async logs(): Promise<Record<string, Record<string, string>>> {
    const out: Record<string, Record<string, string>> = {};
    for (const h of this.cfg.hosts) {
      const r = await this.backend.exec(this.lab, h.name, ['sh', '-c', 'for f in /var/log/halab/*.log; do echo "==> $f"; tail -n 300 "$f"; done'], { check: false }).catch(() => undefined);
      if (!r || r.exitCode !== 0) continue;
      out[h.name] = Object.fromEntries(
        r.stdout
          .split(/^==> /m)
          .filter(Boolean)
          .map((chunk) => {
            const nl = chunk.indexOf('\n');
            return [chunk.slice(0, nl).replace(/^.*\//, ''), chunk.slice(nl + 1)];
          }),
      );
    }
    return out;
  }

  /** The first ok answer for `service` from a server other than `from`, at or after `since`. */
  async waitAnswer(service: ServiceName, from: string, since: number, timeoutMs: number): Promise<ProbeLine | undefined> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const hit = (await this.probeLines(since, 400)).find((l) => l.service === service && l.ok && l.server !== from);
      if (hit) return hit;
      await sleep(250);
    }
    return undefined;
  }
}
