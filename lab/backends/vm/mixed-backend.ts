// The backend labs use: containers and VMs side by side. It IS a DockerBackend (every VM node is
// a labelled container too, so lab-wide listing, pids for nsenter, stats, kill, destroy and
// teardown are shared) and hands the operations that differ to the VmBackend for nodes planned
// with backend: vm (recognised by the container label halab.backend=vm).
import type Docker from 'dockerode';
import type { ExecOptions, ExecResult, NodeInfo } from '../backend.ts';
import { DockerBackend } from '../docker/docker-backend.ts';
import type { ExecStreamOptions } from '../docker/exec.ts';
import { containerName } from '../docker/names.ts';
import type { LabPlan, PlannedNode } from '../../topology/types.ts';
import { silentLogger, type Logger } from '../../util/log.ts';
import { BACKEND_LABEL, VmBackend } from './vm-backend.ts';

export class MixedBackend extends DockerBackend {
  readonly vm: VmBackend;
  private readonly kinds = new Map<string, boolean>();

  constructor(docker: Docker, log: Logger = silentLogger) {
    super(docker);
    this.vm = new VmBackend(docker, log);
  }

  /** Whether a node is a VM (cached per lab/node; an unknown node is treated as a container). */
  async isVm(lab: string, node: string): Promise<boolean> {
    const key = `${lab}/${node}`;
    const known = this.kinds.get(key);
    if (known !== undefined) return known;
    const info = await this.docker.getContainer(containerName(lab, node)).inspect().catch(() => undefined);
    if (!info) return false;
    const vm = info.Config.Labels?.[BACKEND_LABEL] === 'vm';
    this.kinds.set(key, vm);
    return vm;
  }

  override async createNode(plan: LabPlan, node: PlannedNode): Promise<void> {
    this.kinds.delete(`${plan.lab}/${node.name}`);
    if (node.backend === 'vm') return this.vm.createNode(plan, node);
    return super.createNode(plan, node);
  }
  override async start(lab: string, node: string) {
    return (await this.isVm(lab, node)) ? this.vm.start(lab, node) : super.start(lab, node);
  }
  override async stop(lab: string, node: string, timeoutSeconds?: number) {
    return (await this.isVm(lab, node)) ? this.vm.stop(lab, node, timeoutSeconds) : super.stop(lab, node, timeoutSeconds);
  }
  override async pause(lab: string, node: string) {
    return (await this.isVm(lab, node)) ? this.vm.pause(lab, node) : super.pause(lab, node);
  }
  override async resume(lab: string, node: string) {
    return (await this.isVm(lab, node)) ? this.vm.resume(lab, node) : super.resume(lab, node);
  }
  override async destroy(lab: string, node: string) {
    this.kinds.delete(`${lab}/${node}`);
    return super.destroy(lab, node);
  }
  override async exec(lab: string, node: string, cmd: string[], opts?: ExecStreamOptions | ExecOptions): Promise<ExecResult> {
    return (await this.isVm(lab, node)) ? this.vm.exec(lab, node, cmd, opts) : super.exec(lab, node, cmd, opts);
  }
  override async setLink(lab: string, node: string, ifname: string, up: boolean): Promise<void> {
    return (await this.isVm(lab, node)) ? this.vm.setLink(lab, node, ifname, up) : super.setLink(lab, node, ifname, up);
  }
  override async putArchive(lab: string, node: string, dir: string, tar: Buffer): Promise<void> {
    return (await this.isVm(lab, node)) ? this.vm.putArchive(lab, node, dir, tar) : super.putArchive(lab, node, dir, tar);
  }
  override async setSysctl(lab: string, node: string, key: string, value: string): Promise<void> {
    return (await this.isVm(lab, node)) ? this.vm.setSysctl(lab, node, key, value) : super.setSysctl(lab, node, key, value);
  }
  override async inspect(lab: string, node: string): Promise<NodeInfo> {
    const info = await super.inspect(lab, node);
    return (await this.isVm(lab, node)) ? this.vm.patchInfo(lab, info) : info;
  }
  override async listNodes(lab: string): Promise<NodeInfo[]> {
    const nodes = await super.listNodes(lab);
    return Promise.all(nodes.map(async (n) => ((await this.isVm(lab, n.name)) ? this.vm.patchInfo(lab, n) : n)));
  }
  override async destroyLab(lab: string) {
    for (const k of this.kinds.keys()) if (k.startsWith(`${lab}/`)) this.kinds.delete(k);
    return super.destroyLab(lab);
  }
}
