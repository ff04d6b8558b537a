// The one way a lab node's container is made, for container nodes and VM nodes alike: named
// <lab>-<node>, labelled with its lab, node, role and NICs, created on its first NIC's network with
// the planned address, then connected to the other NICs' networks in topology order before it
// starts (attachment order is interface order: eth0, eth1, …). Not started here.
import type Docker from 'dockerode';
import { LAB_LABEL, NODE_LABEL, ROLE_LABEL } from '../backend.ts';
import type { LabPlan, PlannedNode } from '../../topology/types.ts';
import { UserError } from '../../util/errors.ts';
import { containerName, networkName } from './names.ts';

export const NICS_LABEL = 'halab.nics';

/** The labels every node container carries (pure). */
export function nodeLabels(plan: LabPlan, node: PlannedNode): Record<string, string> {
  return {
    [LAB_LABEL]: plan.lab,
    [NODE_LABEL]: node.name,
    [ROLE_LABEL]: node.role,
    [NICS_LABEL]: node.nics.map((n) => `${n.ifname}=${n.network}`).join(','),
  };
}

/**
 * Create the node's container from `spec` (image, command, host config …; its name, network
 * mode, endpoints and node labels are filled in here, extra labels kept) with every planned NIC.
 */
export async function createNodeContainer(
  docker: Docker,
  plan: LabPlan,
  node: PlannedNode,
  spec: Docker.ContainerCreateOptions,
): Promise<Docker.Container> {
  const [first, ...rest] = node.nics;
  if (!first) throw new UserError(`Node ${node.name} has no NIC`);
  const endpoint = (address: string) => ({ IPAMConfig: { IPv4Address: address }, Aliases: [node.name] });
  const created = await docker.createContainer({
    ...spec,
    name: containerName(plan.lab, node.name),
    Labels: { ...nodeLabels(plan, node), ...spec.Labels },
    HostConfig: { ...spec.HostConfig, NetworkMode: networkName(plan.lab, first.network) },
    NetworkingConfig: { EndpointsConfig: { [networkName(plan.lab, first.network)]: endpoint(first.address) } },
  });
  for (const nic of rest) {
    await docker.getNetwork(networkName(plan.lab, nic.network)).connect({ Container: created.id, EndpointConfig: endpoint(nic.address) });
  }
  return created;
}
