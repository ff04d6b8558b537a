// Deploys erd (route failover on link loss) on every node of the HAS lab.
import { fileURLToPath } from 'node:url';
import type { StackContext } from '../stack.ts';
import { installDaemon, putFile, startDaemon } from '../node-files.ts';
import type { HasConfig } from './config.ts';
import type { PlannedNode } from '../../topology/types.ts';

const ERD_ENTRY = fileURLToPath(new URL('./daemons/erd.ts', import.meta.url));

/** erd on `nodes` (those with more than one NIC; the deploy passes the nodes it redeploys). */
export async function deployErd(ctx: StackContext, cfg: HasConfig, nodes: readonly PlannedNode[]): Promise<void> {
  const subnets = new Map(ctx.plan.networks.map((n) => [n.name, n.subnet]));
  await Promise.all(
    nodes
      .filter((n) => n.nics.length > 1)
      .map(async (node) => {
        const argv = await installDaemon(ctx.backend, cfg.lab, node.name, 'erd', ERD_ENTRY);
        const conf = {
          node: node.name,
          pollMs: cfg.erd.pollMs,
          nics: node.nics.map((n) => ({ ...n, subnet: subnets.get(n.network)! })),
        };
        await putFile(ctx.backend, cfg.lab, node.name, '/etc/halab/erd.json', JSON.stringify(conf));
        await startDaemon(ctx.backend, cfg.lab, node.name, { name: 'erd', argv: [...argv, '/etc/halab/erd.json'] });
      }),
  );
}
