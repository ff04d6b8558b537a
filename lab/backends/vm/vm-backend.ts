// The VM backend (backend: vm). A VM node is a QEMU (TCG) guest running inside a lab container of
// the halab/vm image, named and labelled like any node (<lab>-<node>, halab.lab=<lab>):
//  - NICs: the container is attached to the lab's Docker networks in topology order with the
//    planned addresses, exactly as a container node; launch.mjs moves each ethN's traffic to the
//    guest's NIC N (tap + tc mirred both ways, guest MAC = ethN's MAC), so the guest answers for
//    the planned address on the same L2 segment, and nsenter faults on ethN (link down, tc
//    qdiscs) hit the VM's traffic. `setLink` also cuts the guest's carrier with QMP set_link.
//  - disk: the node's own role image as ext4 (disk.ts), a per-node qcow2 overlay on top.
//  - control: QMP (stop/cont, set_link, query-status), exec through halab's guest agent on a
//    virtio-serial port (guest-exec.ts), clean shutdown through the agent (poweroff -f).
//  - teardown: removing the container removes QEMU, taps (they live in its netns) and overlay.
import type Docker from 'dockerode';
import { execa } from 'execa';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { Backend, ExecOptions, ExecResult, LabResource, NodeInfo, NodeStats } from '../backend.ts';
import { DockerBackend } from '../docker/docker-backend.ts';
import { createNodeContainer } from '../docker/node-container.ts';
import { ExecError, type ExecStreamOptions } from '../docker/exec.ts';
import { containerName } from '../docker/names.ts';
import type { LabPlan, PlannedNode } from '../../topology/types.ts';
import { ensureImages } from '../../engine/images.ts';
import { UserError } from '../../util/errors.ts';
import { silentLogger, type Logger } from '../../util/log.ts';
import { labStateDir } from '../../util/paths.ts';
import { ensureVmDisk, VM_IMAGE } from './disk.ts';
import { guestClockOffset, guestExec, guestPing, shiftClockScript } from './guest-exec.ts';
import { qmp } from './qmp.ts';
import { netdevId, qemuArgv, VM_PATHS } from './qemu.ts';

export const BACKEND_LABEL = 'halab.backend';
export const VM_CONFIG_LABEL = 'halab.vm.config';

/** Guest RAM when the topology sets no memory (the env note: ~200 MiB RSS at 128–256). */
export const DEFAULT_VM_MEMORY_MIB = 256;
/** Memory the container needs on top of the guest's RAM (QEMU itself, TCG cache, launch.mjs). */
const CONTAINER_OVERHEAD_MIB = 192;
const READY_TIMEOUT_MS = Number(process.env.HALAB_VM_READY_TIMEOUT_MS ?? 600_000);

/** What the guest is configured with after each boot (kept in a container label: survives stop/start). */
export interface VmConfig {
  name: string;
  nics: { ifname: string; address: string; prefixLength: number }[];
  hosts: [string, string][];
  env: Record<string, string>;
  memoryMiB: number;
}

export interface VmBootReport {
  node: string;
  /** Container start → guest agent answers and NICs are configured, host wall clock. */
  bootSeconds: number;
  /** Guest's own uptime when the agent first answered. */
  guestUptimeSeconds: number;
  /** QEMU's resident memory right after boot. */
  qemuRssBytes: number;
  /** The whole node container's memory (QEMU + launcher), from its cgroup. */
  containerMemoryBytes: number;
  memoryMiB: number;
  /** Guest clock − host clock after the boot-time sync (ms), and its uncertainty (half the best ping round trip). */
  clockOffsetMs?: number;
  clockUncertaintyMs?: number;
}

/** The shell script run in the guest after every boot: addresses, links, /etc/hosts (pure). */
export function guestSetupScript(cfg: VmConfig): string {
  const lines = ['set -e'];
  const hosts = ['127.0.0.1\tlocalhost', ...cfg.hosts.map(([n, a]) => `${a}\t${n}`)];
  lines.push(`cat > /etc/hosts <<'EOF'\n${hosts.join('\n')}\nEOF`);
  lines.push(`hostname ${cfg.name}; echo ${cfg.name} > /etc/hostname`);
  for (const nic of cfg.nics) {
    lines.push(`ip link set dev ${nic.ifname} up`);
    lines.push(`ip addr replace ${nic.address}/${nic.prefixLength} dev ${nic.ifname}`);
  }
  return lines.join('\n') + '\n';
}

export class VmBackend implements Backend {
  readonly kind = 'vm' as const;
  readonly containers: DockerBackend;
  readonly boots = new Map<string, VmBootReport>();
  private readonly bootLimit = pLimit(Math.max(1, Number(process.env.HALAB_VM_BOOT_CONCURRENCY ?? 2)));
  private vmImage?: Promise<unknown>;

  constructor(
    readonly docker: Docker,
    private readonly log: Logger = silentLogger,
  ) {
    this.containers = new DockerBackend(docker);
  }

  createNetworks(plan: LabPlan): Promise<void> {
    return this.containers.createNetworks(plan);
  }

  private container(lab: string, node: string) {
    return this.docker.getContainer(containerName(lab, node));
  }

  async createNode(plan: LabPlan, node: PlannedNode): Promise<void> {
    const name = containerName(plan.lab, node.name);
    const existing = await this.container(plan.lab, node.name).inspect().catch(() => undefined);
    if (existing) {
      if (existing.Config.Labels?.[BACKEND_LABEL] !== 'vm') {
        throw new UserError(`Node ${node.name} of lab ${plan.lab} exists as a container, but the topology makes it a VM. Run 'halab down ${plan.lab}' first.`);
      }
      return this.start(plan.lab, node.name);
    }
    this.vmImage ??= ensureImages(this.docker, [VM_IMAGE], this.log);
    await this.vmImage;
    const disk = await ensureVmDisk(this.docker, node.image, this.log);
    if (!node.nics.length) throw new UserError(`Node ${node.name} has no NIC`);
    const memoryMiB = node.memoryBytes ? Math.floor(node.memoryBytes / 2 ** 20) : DEFAULT_VM_MEMORY_MIB;
    const cfg: VmConfig = {
      name: node.name,
      nics: node.nics.map((n) => ({ ifname: n.ifname, address: n.address, prefixLength: n.prefixLength })),
      hosts: plan.nodes.filter((n) => n.nics[0]).map((n) => [n.name, n.nics[0]!.address]),
      env: node.env,
      memoryMiB,
    };
    if (node.cpus !== undefined && node.cpus < 0.5) {
      this.log.warn(`VM ${node.name}: a CPU cap of ${node.cpus} cores makes a TCG guest very slow to boot`);
    }
    const argv = qemuArgv({ name: node.name, id: name, memoryMiB, nics: node.nics.length });
    const created = await createNodeContainer(this.docker, plan, node, {
      Hostname: node.name,
      Image: VM_IMAGE,
      Cmd: ['node', '/opt/halab-vm/launch.mjs', ...argv],
      Env: [`HALAB_VM_NICS=${node.nics.length}`, `HALAB_VM_DISK=${VM_PATHS.baseDisk}`],
      Labels: { [BACKEND_LABEL]: 'vm', 'halab.vm.image': node.image, [VM_CONFIG_LABEL]: JSON.stringify(cfg) },
      StopTimeout: 2,
      HostConfig: {
        Init: true,
        CapAdd: [...new Set(['NET_ADMIN', 'NET_RAW', ...node.capabilities])],
        NanoCpus: node.cpus ? Math.round(node.cpus * 1e9) : undefined,
        Memory: node.memoryBytes ? (memoryMiB + CONTAINER_OVERHEAD_MIB) * 2 ** 20 : undefined,
        Mounts: [{ Type: 'bind', Source: disk, Target: VM_PATHS.baseDisk, ReadOnly: true }],
        Devices: [{ PathOnHost: '/dev/net/tun', PathInContainer: '/dev/net/tun', CgroupPermissions: 'rwm' }],
        SecurityOpt: ['apparmor=unconfined', 'seccomp=unconfined'],
      },
    });
    await this.bootLimit(async () => {
      const t0 = performance.now();
      await created.start();
      await this.awaitBoot(plan.lab, node.name, cfg, t0);
    });
  }

  /** Wait for the agent, configure the guest, record and print boot time and memory. */
  private async awaitBoot(lab: string, node: string, cfg: VmConfig, t0: number): Promise<VmBootReport> {
    const uptime = await this.waitAgent(lab, node);
    await this.configure(lab, node, cfg);
    const clock = await this.syncClock(lab, node);
    const bootSeconds = (performance.now() - t0) / 1000;
    const pid = await this.pid(lab, node);
    const info = await this.container(lab, node).inspect();
    const { readContainerCgroup } = await import('../docker/cgroup.ts');
    const report: VmBootReport = {
      node,
      bootSeconds,
      guestUptimeSeconds: uptime,
      qemuRssBytes: qemuRss(pid),
      containerMemoryBytes: readContainerCgroup(info.Id).memoryBytes ?? 0,
      memoryMiB: cfg.memoryMiB,
      clockOffsetMs: clock?.offsetMs,
      clockUncertaintyMs: clock?.uncertaintyMs,
    };
    this.boots.set(`${lab}/${node}`, report);
    const dir = join(labStateDir(lab), 'vm');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${node}.boot.json`), JSON.stringify(report, null, 2) + '\n');
    this.log.info(
      `VM ${node}: ready in ${bootSeconds.toFixed(1)} s (guest uptime ${uptime.toFixed(1)} s), ` +
        `QEMU RSS ${mib(report.qemuRssBytes)} MiB, node total ${mib(report.containerMemoryBytes)} MiB, guest RAM ${cfg.memoryMiB} MiB`,
    );
    return report;
  }

  private async waitAgent(lab: string, node: string): Promise<number> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const info = await this.container(lab, node).inspect();
      if (!info.State.Running) {
        throw new UserError(`VM ${node} stopped while booting (exit ${info.State.ExitCode}):\n${await this.consoleTail(lab, node)}`);
      }
      const uptime = await guestPing(this.agentPath(info.State.Pid), 1500);
      if (uptime !== undefined) return uptime;
      if (Date.now() > deadline) {
        throw new UserError(`VM ${node} did not answer within ${READY_TIMEOUT_MS / 1000} s. Console:\n${await this.consoleTail(lab, node)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The guest's serial console (last lines), for error messages. */
  async consoleTail(lab: string, node: string, lines = 25): Promise<string> {
    try {
      const pid = await this.pid(lab, node);
      return readFileSync(`/proc/${pid}/root${VM_PATHS.console}`, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      const logs = await this.container(lab, node).logs({ stdout: true, stderr: true, tail: lines }).catch(() => Buffer.from(''));
      return logs.toString('utf8');
    }
  }

  private async configure(lab: string, node: string, cfg: VmConfig): Promise<void> {
    const r = await this.exec(lab, node, ['sh', '-c', guestSetupScript(cfg)], { check: false, timeoutMs: 60_000 });
    if (r.exitCode !== 0) throw new UserError(`Configuring VM ${node} failed: ${r.stderr || r.stdout}`);
  }

  /**
   * Set the guest's wall clock to the host's. Event times from every node share one clock in a run
   * (benchmarks/ledger.ts), but a TCG guest starts from the RTC's whole second and its clock stands
   * still while QMP-stopped. Measured in the agent (no spawn), corrected relative to the guest's own
   * clock, then measured again: returns the remaining offset and its uncertainty.
   */
  async syncClock(lab: string, node: string): Promise<{ offsetMs: number; uncertaintyMs: number } | undefined> {
    const sock = this.agentPath(await this.pid(lab, node));
    const before = await guestClockOffset(sock);
    if (!before) return undefined; // an agent without clock reading (older disk)
    if (Math.abs(before.offsetMs) > before.uncertaintyMs) {
      await this.exec(lab, node, ['sh', '-c', shiftClockScript(-before.offsetMs)], { timeoutMs: 30_000 });
    }
    return (await guestClockOffset(sock)) ?? before;
  }

  private async config(lab: string, node: string): Promise<VmConfig> {
    const info = await this.container(lab, node).inspect();
    const raw = info.Config.Labels?.[VM_CONFIG_LABEL];
    if (!raw) throw new UserError(`${node} of lab ${lab} is not a VM node`);
    return JSON.parse(raw) as VmConfig;
  }

  private agentPath(pid: number): string {
    return `/proc/${pid}/root${VM_PATHS.agent}`;
  }
  private qmpPath(pid: number): string {
    return `/proc/${pid}/root${VM_PATHS.qmp}`;
  }

  pid(lab: string, node: string): Promise<number> {
    return this.containers.pid(lab, node);
  }

  /** QMP command on a node's QEMU. */
  async qmp<T = unknown>(lab: string, node: string, command: string, args?: Record<string, unknown>): Promise<T> {
    return qmp<T>(this.qmpPath(await this.pid(lab, node)), command, args);
  }

  async start(lab: string, node: string): Promise<void> {
    const c = this.container(lab, node);
    const info = await c.inspect();
    if (info.State.Paused) await c.unpause();
    if (info.State.Running) {
      if ((await this.qmp<{ status: string }>(lab, node, 'query-status')).status === 'paused') await this.resume(lab, node);
      return;
    }
    await this.bootLimit(async () => {
      const t0 = performance.now();
      await c.start();
      await this.awaitBoot(lab, node, await this.config(lab, node), t0);
    });
  }

  /** Clean shutdown: the guest syncs and powers off (QEMU exits: -no-reboot), then the container stops. */
  async stop(lab: string, node: string, timeoutSeconds = 10): Promise<void> {
    const c = this.container(lab, node);
    const info = await c.inspect();
    if (!info.State.Running) return;
    if (info.State.Paused) await c.unpause();
    await this.qmp(lab, node, 'cont').catch(() => {});
    const pid = info.State.Pid;
    await guestExec(this.agentPath(pid), ['/opt/halab/bin/busybox', 'sh', '-c', 'sync; (sleep 0.2; poweroff -f) >/dev/null 2>&1 &'], {
      timeoutMs: 5000,
    }).catch(() => {});
    const deadline = Date.now() + timeoutSeconds * 1000;
    while (Date.now() < deadline && (await c.inspect()).State.Running) await new Promise((r) => setTimeout(r, 200));
    await c.stop({ t: 1 }).catch((e) => {
      if ((e as { statusCode?: number }).statusCode !== 304) throw e;
    });
  }

  /** Freeze the guest (QMP stop): vCPUs halt, QEMU and the NICs' container side stay. */
  async pause(lab: string, node: string): Promise<void> {
    await this.qmp(lab, node, 'stop');
  }
  /** QMP cont; the guest's clock stood still while stopped, so it is set from the host's again. */
  async resume(lab: string, node: string): Promise<void> {
    await this.qmp(lab, node, 'cont');
    await this.syncClock(lab, node).catch((e: Error) => this.log.warn(`VM ${node}: clock not resynced after resume: ${e.message}`));
  }
  /** Like pulling the plug: the node's container (and QEMU in it) is killed. */
  kill(lab: string, node: string, signal = 'SIGKILL'): Promise<void> {
    return this.containers.kill(lab, node, signal);
  }
  destroy(lab: string, node: string): Promise<void> {
    return this.containers.destroy(lab, node);
  }

  async exec(lab: string, node: string, cmd: string[], opts: ExecStreamOptions | ExecOptions = {}): Promise<ExecResult> {
    return this.execRaw(lab, node, cmd, opts);
  }

  private async execRaw(
    lab: string,
    node: string,
    cmd: string[],
    opts: (ExecStreamOptions | ExecOptions) & { stdinBytes?: Buffer } = {},
  ): Promise<ExecResult> {
    const info = await this.container(lab, node).inspect();
    if (!info.State.Running) throw new UserError(`Node ${node} of lab ${lab} is not running`);
    const cfg = JSON.parse(info.Config.Labels?.[VM_CONFIG_LABEL] ?? '{}') as Partial<VmConfig>;
    const r = await guestExec(this.agentPath(info.State.Pid), cmd, {
      env: { ...(cfg.env ?? {}), ...(opts.env ?? {}) },
      stdin: opts.stdinBytes ?? opts.stdin,
      timeoutMs: opts.timeoutMs,
      user: opts.user,
    });
    if ((opts as ExecStreamOptions).tee) {
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
    }
    if ((opts.check ?? true) && r.exitCode !== 0) throw new ExecError(node, cmd, r);
    return r;
  }

  /** NIC link: the guest loses carrier (QMP set_link) and the container's ethN goes down (the bridge sees it). */
  async setLink(lab: string, node: string, ifname: string, up: boolean): Promise<void> {
    const m = /^eth(\d+)$/.exec(ifname);
    if (!m) throw new UserError(`VM ${node} has no NIC ${ifname}`);
    const pid = await this.pid(lab, node);
    const hostSide = async () => {
      const r = await execa('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', 'dev', ifname, up ? 'up' : 'down'], {
        reject: false,
        all: true,
      });
      if (r.exitCode !== 0) throw new UserError(`Could not set ${node}:${ifname} ${up ? 'up' : 'down'}: ${r.all}`);
    };
    if (up) await hostSide();
    await qmp(this.qmpPath(pid), 'set_link', { name: netdevId(Number(m[1])), up });
    if (!up) await hostSide();
  }

  async putArchive(lab: string, node: string, dir: string, tar: Buffer): Promise<void> {
    await this.execRaw(lab, node, ['sh', '-c', 'mkdir -p "$1" && tar -x -C "$1"', 'sh', dir], { stdinBytes: tar, timeoutMs: 300_000 });
  }

  /** Network sysctls belong to the guest's kernel: set them there. */
  async setSysctl(lab: string, node: string, key: string, value: string): Promise<void> {
    const r = await this.execRaw(lab, node, ['sh', '-c', 'printf %s "$2" > "/proc/sys/$1"', 'sh', key.replace(/\./g, '/'), value], {
      check: false,
    });
    if (r.exitCode !== 0) throw new UserError(`Could not set ${key}=${value} in ${node}: ${r.stderr}`);
  }

  /** CPU and memory of the node's container: QEMU's vCPU time is the VM's CPU time. */
  stats(lab: string, node: string): Promise<NodeStats> {
    return this.containers.stats(lab, node);
  }

  async inspect(lab: string, node: string): Promise<NodeInfo> {
    return this.patchInfo(lab, await this.containers.inspect(lab, node));
  }

  /** A VM node's NodeInfo: backend vm, and 'paused' when QEMU is stopped (QMP). */
  async patchInfo(lab: string, info: NodeInfo): Promise<NodeInfo> {
    const out: NodeInfo = { ...info, backend: 'vm' };
    if (info.state === 'running' && info.pid) {
      const s = await qmp<{ status: string }>(this.qmpPath(info.pid), 'query-status', undefined, 2000).catch(() => undefined);
      if (s && s.status !== 'running') out.state = s.status === 'paused' ? 'paused' : 'unknown';
    }
    return out;
  }

  listResources(lab: string): Promise<LabResource[]> {
    return this.containers.listResources(lab);
  }
  destroyLab(lab: string): Promise<LabResource[]> {
    return this.containers.destroyLab(lab);
  }
}

/** Resident memory of the QEMU process of a node (a child of launch.mjs in the container). */
export function qemuRss(containerPid: number): number {
  const kids = (pid: number): number[] => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  const stack = [containerPid];
  while (stack.length) {
    const pid = stack.pop()!;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('qemu-system')) {
        const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        return Number(kb ?? 0) * 1024;
      }
    } catch {
      continue;
    }
    stack.push(...kids(pid));
  }
  return 0;
}

const mib = (b: number) => (b / 2 ** 20).toFixed(0);
