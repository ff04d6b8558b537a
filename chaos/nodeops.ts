// The thin layer that touches nodes for faults: commands inside a node's network namespace
// (nsenter from the host: works even when the node's own tools or processes are frozen).
import { execa } from 'execa';
import type { DockerBackend } from '../lab/backends/docker/docker-backend.ts';
import { UserError } from '../lab/util/errors.ts';
import type { Inverse } from './journal.ts';

export async function inNetns(backend: DockerBackend, lab: string, node: string, cmd: string[], input?: string): Promise<string> {
  const pid = await backend.pid(lab, node);
  const r = await execa('nsenter', ['-t', String(pid), '-n', ...cmd], { reject: false, all: true, input });
  if (r.exitCode !== 0) throw new UserError(`${node}: ${cmd.join(' ')} failed: ${r.all}`);
  return r.stdout;
}

/** One nftables table per lab per netns: rollback of every rule there is one delete. */
export const chaosTable = (lab: string) => `halab_${lab.replace(/-/g, '_')}`;

/** The apply half of every nft fault: load one table (named after the lab and the fault) into
 * the node; its inverse deletes that table. */
export function nftTableFault(
  backend: DockerBackend,
  lab: string,
  node: string,
  family: 'inet' | 'netdev',
  table: string,
  rules: string,
): { actions: string[]; inverse: Inverse; act(): Promise<void> } {
  return {
    actions: [`nsenter -t <pid of ${node}> -n nft -f - <<< '${rules.replace(/\n/g, ' ')}'`],
    inverse: { type: 'nft-delete-table', node, family, table },
    act: async () => void (await inNetns(backend, lab, node, ['nft', '-f', '-'], rules)),
  };
}
