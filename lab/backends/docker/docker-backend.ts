// The Docker backend: lab networks are internal bridge networks, nodes are containers attached
// to their NICs in topology order. Everything is labelled halab.lab=<lab> and found by that label.
import type Docker from 'dockerode';
import { execa } from 'execa';
import { cpus as hostCpus } from 'node:os';
import type { Backend, ExecOptions, ExecResult, LabResource, NodeInfo, NodeState, NodeStats } from '../backend.ts';
import { LAB_LABEL, NODE_LABEL, ROLE_LABEL } from '../backend.ts';
import type { LabPlan, PlannedNode } from '../../topology/types.ts';
import { bridgeName, containerName, networkName } from './names.ts';
import { execInContainer, type ExecStreamOptions } from './exec.ts';
import { createNodeContainer, NICS_LABEL } from './node-container.ts';
import { grantContainerRealtime, readContainerCgroup, setContainerCpuPeriod } from './cgroup.ts';
import { UserError } from '../../util/errors.ts';
import { allowWithinBridge, removeLabBridgeRules } from './bridge-firewall.ts';

export const NETWORK_LABEL = 'halab.network';
export { NICS_LABEL };

/** The host's cores: the largest cap Docker accepts, and what "uncapped" is set as. */
const hostCores = () => hostCpus().length;

const labFilter = (lab: string) => ({ label: [`${LAB_LABEL}=${lab}`] });

function isNotFound(err: unknown): boolean {
  return (err as { statusCode?: number })?.statusCode === 404;
}

/** dockerd refusing to remove a network it still counts endpoints on. */
export function isStaleEndpoints(err: unknown): boolean {
  return /has active endpoints/.test(String((err as { message?: string })?.message ?? err));
}

export class DockerBackend implements Backend {
  readonly kind = 'container' as const;
  constructor(readonly docker: Docker) {}

  /** Frames between two ports of a lab bridge always pass (see bridge-firewall.ts). */
  private async openBridge(lab: string, network: string): Promise<void> {
    const warning = await allowWithinBridge(bridgeName(lab, network), lab);
    if (warning) process.stderr.write(`halab: warning: ${warning}\n`);
  }

  async createNetworks(plan: LabPlan): Promise<void> {
    const existing = await this.docker.listNetworks({ filters: labFilter(plan.lab) });
    await Promise.all(
      plan.networks.map(async (net) => {
        const name = networkName(plan.lab, net.name);
        const found = existing.find((n) => n.Name === name);
        if (found) {
          const subnet = found.IPAM?.Config?.[0]?.Subnet;
          if (subnet !== net.subnet) {
            throw new UserError(
              `Network ${name} exists with subnet ${subnet}, but the topology wants ${net.subnet}. Run 'halab down ${plan.lab}' first.`,
            );
          }
          await this.openBridge(plan.lab, net.name);
          return;
        }
        try {
          await this.docker.createNetwork({
            Name: name,
            Driver: 'bridge',
            // Internal: no route out of the lab and no NAT; the host still reaches it via the bridge.
            Internal: true,
            CheckDuplicate: true,
            IPAM: { Driver: 'default', Config: [{ Subnet: net.subnet, Gateway: net.gateway }] },
            Options: { 'com.docker.network.bridge.name': bridgeName(plan.lab, net.name) },
            Labels: { [LAB_LABEL]: plan.lab, [NETWORK_LABEL]: net.name },
          });
          await this.openBridge(plan.lab, net.name);
        } catch (err) {
          const msg = (err as Error).message;
          if (/overlap/i.test(msg)) {
            throw new UserError(
              `Network ${net.name} (${net.subnet}) of lab ${plan.lab} overlaps a network that already exists in the engine ` +
                `(another lab?). Give the topology its own subnets, or 'halab down' the other lab.\n${msg}`,
            );
          }
          throw err;
        }
      }),
    );
  }

  async createNode(plan: LabPlan, node: PlannedNode): Promise<void> {
    const name = containerName(plan.lab, node.name);
    const container = this.docker.getContainer(name);
    try {
      const info = await container.inspect();
      if (info.State.Paused) await container.unpause();
      else if (!info.State.Running) await container.start();
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    // Every node knows every other node by name (first NIC's address), as on a real cluster's /etc/hosts.
    const extraHosts = plan.nodes.filter((n) => n.nics[0]).map((n) => `${n.name}:${n.nics[0]!.address}`);
    const created = await createNodeContainer(this.docker, plan, node, {
      Hostname: node.name,
      Image: node.image,
      // Pid files of halab's daemons are stale after a restart of the node (pids are reused).
      Cmd: ['sh', '-c', 'rm -rf /run/halab; exec sleep infinity'],
      Env: Object.entries(node.env).map(([k, v]) => `${k}=${v}`),
      StopTimeout: 2,
      HostConfig: {
        Init: true,
        CapAdd: node.capabilities,
        NanoCpus: node.cpus ? Math.round(node.cpus * 1e9) : undefined,
        Memory: node.memoryBytes,
        ExtraHosts: extraHosts,
        // Per-node volumes (labelled with the lab, removed by down) for data that needs a real
        // filesystem (NFS exports need file handles, which overlayfs lacks).
        Mounts: (node.volumes ?? []).map((target) => ({
          Type: 'volume' as const,
          Source: `${name}${target.replace(/[^A-Za-z0-9]+/g, '-')}`,
          Target: target,
          VolumeOptions: { NoCopy: false, Labels: { [LAB_LABEL]: plan.lab, [NODE_LABEL]: node.name }, DriverConfig: { Name: 'local', Options: {} } },
        })),
        Devices: (node.devices ?? []).map((d) => ({ PathOnHost: d, PathInContainer: d, CgroupPermissions: 'rwm' })),
        // Lab nodes run halab's own images and real daemons that need syscalls Docker's default
        // profiles block (nfs-ganesha: open_by_handle_at; FUSE mounts).
        SecurityOpt: ['apparmor=unconfined', 'seccomp=unconfined'],
      },
    });
    await created.start();
  }

  private container(lab: string, node: string) {
    return this.docker.getContainer(containerName(lab, node));
  }

  async start(lab: string, node: string) {
    const c = this.container(lab, node);
    const info = await c.inspect();
    if (info.State.Paused) await c.unpause();
    else if (!info.State.Running) await c.start();
  }
  async stop(lab: string, node: string, timeoutSeconds = 2) {
    await this.container(lab, node).stop({ t: timeoutSeconds }).catch((e) => {
      if ((e as { statusCode?: number }).statusCode !== 304) throw e;
    });
  }
  async setCpuLimit(lab: string, node: string, cpus: number, opts: { periodMs?: number } = {}) {
    if (!(cpus >= 0)) throw new UserError(`CPU cap must be ≥ 0 cores, got ${cpus}`);
    const c = this.container(lab, node);
    // Docker takes NanoCpus 0 as "leave unchanged", not "uncapped": uncapped is every host core.
    await c.update({ NanoCpus: Math.round((cpus || hostCores()) * 1e9) });
    if (cpus > 0 && opts.periodMs && opts.periodMs !== 100) {
      const id = (await c.inspect()).Id;
      if (!setContainerCpuPeriod(id, cpus, opts.periodMs))
        throw new UserError(`${lab}/${node}: no CPU cgroup found for container ${id.slice(0, 12)}, cannot set a ${opts.periodMs} ms CFS period`);
    }
  }
  async allowRealtime(lab: string, node: string, runtimeUs: number) {
    const id = (await this.container(lab, node).inspect()).Id;
    let r: ReturnType<typeof grantContainerRealtime>;
    try {
      r = grantContainerRealtime(id, runtimeUs);
    } catch (e) {
      // e.g. EINVAL: the parent's budget is spent by other containers (many labs at once)
      throw new UserError(`${lab}/${node}: cannot grant ${runtimeUs} µs/s of real-time CPU: ${(e as Error).message}`);
    }
    if (!r) throw new UserError(`${lab}/${node}: no CPU cgroup found for container ${id.slice(0, 12)}, cannot grant real-time CPU`);
  }
  async setCpuSet(lab: string, node: string, cpus: string) {
    await this.container(lab, node).update({ CpusetCpus: cpus });
  }
  async pause(lab: string, node: string) {
    await this.container(lab, node).pause();
  }
  async resume(lab: string, node: string) {
    await this.container(lab, node).unpause();
  }
  async kill(lab: string, node: string, signal = 'SIGKILL') {
    await this.container(lab, node).kill({ signal });
  }
  async destroy(lab: string, node: string) {
    await this.container(lab, node).remove({ force: true, v: true }).catch((e) => {
      if (!isNotFound(e)) throw e;
    });
  }

  exec(lab: string, node: string, cmd: string[], opts?: ExecStreamOptions | ExecOptions): Promise<ExecResult> {
    return execInContainer(this.docker, containerName(lab, node), node, cmd, opts);
  }

  /** Host PID of the node's init: the handle for nsenter (works even when the node is paused). */
  async pid(lab: string, node: string): Promise<number> {
    const info = await this.container(lab, node).inspect();
    if (!info.State.Pid) throw new UserError(`Node ${node} of lab ${lab} is not running`);
    return info.State.Pid;
  }

  async setLink(lab: string, node: string, ifname: string, up: boolean): Promise<void> {
    const pid = await this.pid(lab, node);
    const r = await execa('nsenter', ['-t', String(pid), '-n', 'ip', 'link', 'set', 'dev', ifname, up ? 'up' : 'down'], {
      reject: false,
      all: true,
    });
    if (r.exitCode !== 0) throw new UserError(`Could not set ${node}:${ifname} ${up ? 'up' : 'down'}: ${r.all}`);
  }

  async putArchive(lab: string, node: string, dir: string, tar: Buffer): Promise<void> {
    await this.exec(lab, node, ['mkdir', '-p', dir]);
    await this.container(lab, node).putArchive(tar, { path: dir });
  }

  /** /proc/sys is read-only inside containers; net.* sysctls are per netns, so set them via nsenter. */
  async setSysctl(lab: string, node: string, key: string, value: string): Promise<void> {
    const pid = await this.pid(lab, node);
    const r = await execa('nsenter', ['-t', String(pid), '-n', 'sysctl', '-q', '-w', `${key}=${value}`], { reject: false, all: true });
    if (r.exitCode !== 0) throw new UserError(`Could not set ${key}=${value} in ${node}: ${r.all}`);
  }

  async stats(lab: string, node: string): Promise<NodeStats> {
    const info = await this.container(lab, node).inspect();
    const cg = readContainerCgroup(info.Id);
    let cpuSeconds = cg.cpuSeconds;
    let memoryBytes = cg.memoryBytes;
    if (cpuSeconds === undefined || memoryBytes === undefined) {
      const s = (await this.container(lab, node).stats({ stream: false })) as unknown as {
        cpu_stats: { cpu_usage: { total_usage: number } };
        memory_stats: { usage?: number };
      };
      cpuSeconds ??= s.cpu_stats.cpu_usage.total_usage / 1e9;
      memoryBytes ??= s.memory_stats.usage ?? 0;
    }
    const nano = info.HostConfig.NanoCpus;
    return {
      cpuSeconds,
      memoryBytes: memoryBytes ?? 0,
      cpuLimit: nano && nano < hostCores() * 1e9 ? nano / 1e9 : undefined,
      memoryLimitBytes: info.HostConfig.Memory || undefined,
    };
  }

  async inspect(lab: string, node: string): Promise<NodeInfo> {
    const info = await this.container(lab, node).inspect();
    return nodeInfoFrom(lab, info);
  }

  async listNodes(lab: string): Promise<NodeInfo[]> {
    const list = await this.docker.listContainers({ all: true, filters: labFilter(lab) });
    const infos = await Promise.all(list.map((c) => this.docker.getContainer(c.Id).inspect()));
    return infos.map((i) => nodeInfoFrom(lab, i)).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  }

  async listResources(lab: string): Promise<LabResource[]> {
    const [containers, networks, volumes] = await Promise.all([
      this.docker.listContainers({ all: true, filters: labFilter(lab) }),
      this.docker.listNetworks({ filters: labFilter(lab) }),
      this.docker.listVolumes({ filters: labFilter(lab) }),
    ]);
    return [
      ...containers.map((c) => ({ type: 'container' as const, id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, '') })),
      ...networks.map((n) => ({ type: 'network' as const, id: n.Id, name: n.Name })),
      ...(volumes.Volumes ?? []).map((v) => ({ type: 'volume' as const, id: v.Name, name: v.Name })),
    ];
  }

  async destroyLab(lab: string): Promise<LabResource[]> {
    const resources = await this.listResources(lab);
    await Promise.all(
      resources
        .filter((r) => r.type === 'container')
        .map((r) => this.docker.getContainer(r.id).remove({ force: true, v: true }).catch((e) => !isNotFound(e) && Promise.reject(e))),
    );
    for (const r of resources.filter((x) => x.type === 'network')) {
      // "has active endpoints" with no container on it is dockerd's endpoint count drifting (seen
      // after containers were killed or stopped in tests); it is left for the caller to see in
      // listResources (labDownByName recovers it), and the volumes and rules still go.
      await this.docker
        .getNetwork(r.id)
        .remove()
        .catch((e) => !isNotFound(e) && !isStaleEndpoints(e) && Promise.reject(e));
    }
    for (const r of resources.filter((x) => x.type === 'volume')) {
      await this.docker.getVolume(r.id).remove().catch((e) => !isNotFound(e) && Promise.reject(e));
    }
    await removeLabBridgeRules(lab);
    return resources;
  }

  /** Containers running in the whole engine, any lab or none. */
  async runningContainers(): Promise<number> {
    return (await this.docker.listContainers({})).length;
  }

  /** Names of all labs that have anything in the engine. */
  async listLabs(): Promise<string[]> {
    const [containers, networks] = await Promise.all([
      this.docker.listContainers({ all: true, filters: { label: [LAB_LABEL] } }),
      this.docker.listNetworks({ filters: { label: [LAB_LABEL] } }),
    ]);
    const names = new Set<string>();
    for (const c of containers) if (c.Labels[LAB_LABEL]) names.add(c.Labels[LAB_LABEL]);
    for (const n of networks) if (n.Labels?.[LAB_LABEL]) names.add(n.Labels[LAB_LABEL]);
    return [...names].sort();
  }
}

function stateOf(s: Docker.ContainerInspectInfo['State']): NodeState {
  if (s.Paused) return 'paused';
  if (s.Running) return 'running';
  return 'stopped';
}

export function nodeInfoFrom(lab: string, info: Docker.ContainerInspectInfo): NodeInfo {
  const labels = info.Config.Labels ?? {};
  const order = (labels[NICS_LABEL] ?? '').split(',').filter(Boolean).map((p) => p.split('=') as [string, string]);
  const nets = info.NetworkSettings.Networks ?? {};
  const nics = order.map(([ifname, network]) => {
    const ep = nets[networkName(lab, network)];
    return { ifname, network, address: ep?.IPAddress || ep?.IPAMConfig?.IPv4Address || '', mac: ep?.MacAddress || undefined };
  });
  return {
    name: labels[NODE_LABEL] ?? info.Name.replace(/^\//, ''),
    role: labels[ROLE_LABEL] ?? '',
    backend: 'container',
    state: stateOf(info.State),
    pid: info.State.Pid || undefined,
    nics,
  };
}
