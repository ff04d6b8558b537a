// Resource names for a lab: everything is prefixed with the lab name (and labelled with it).
import { createHash } from 'node:crypto';

export const containerName = (lab: string, node: string) => `${lab}-${node}`;
export const networkName = (lab: string, network: string) => `${lab}-${network}`;

/** Linux bridge names are limited to 15 characters: a short stable hash keeps them unique per lab+network. */
export function bridgeName(lab: string, network: string): string {
  return 'hl' + createHash('sha256').update(`${lab}/${network}`).digest('hex').slice(0, 10);
}
