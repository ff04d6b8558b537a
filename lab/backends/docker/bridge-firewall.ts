// A lab network must behave like a LAN switch: any frame between two of its ports is delivered.
// Docker's isolation rules for internal networks drop forwarded packets whose destination (or
// source) is outside the network's subnet — which breaks the thesis's route failover, where a
// node whose lan2 NIC died reaches a lan2 address over lan1. One ACCEPT per lab bridge in
// DOCKER-USER (evaluated before Docker's isolation chains), for traffic that enters and leaves the
// SAME bridge only, so nothing crosses between networks or leaves the lab. Each rule carries the
// comment halab:<lab>, and `down` deletes them by that comment.
import { execa } from 'execa';

const CHAIN = 'DOCKER-USER';
const comment = (lab: string) => `halab:${lab}`;

/** The iptables arguments of the rule for one bridge (after -I/-C/-D CHAIN). */
export function sameBridgeRule(bridge: string, lab: string): string[] {
  return ['-i', bridge, '-o', bridge, '-m', 'comment', '--comment', comment(lab), '-j', 'ACCEPT'];
}

/** From `iptables -S DOCKER-USER`, the rules (as -D arguments) that belong to a lab. */
export function labRules(listing: string, lab: string): string[][] {
  const tag = comment(lab);
  return listing
    .split('\n')
    .filter((l) => l.startsWith(`-A ${CHAIN} `))
    .map((l) => l.slice(`-A ${CHAIN} `.length).split(/\s+/).map((w) => w.replace(/^"|"$/g, '')))
    .filter((args) => args.some((w, i) => w === tag && args[i - 1] === '--comment'));
}

async function iptables(args: string[]): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const r = await execa('iptables', ['-w', ...args], { reject: false });
  return { ok: r.exitCode === 0, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Let frames between ports of this lab bridge through; returns a warning when it could not. */
export async function allowWithinBridge(bridge: string, lab: string): Promise<string | undefined> {
  const rule = sameBridgeRule(bridge, lab);
  if ((await iptables(['-C', CHAIN, ...rule])).ok) return undefined;
  const r = await iptables(['-I', CHAIN, '1', ...rule]);
  return r.ok ? undefined : `could not open bridge ${bridge} to cross-subnet frames (route failover over the other NIC will not work): ${r.stderr.trim()}`;
}

/** Delete every rule of a lab (harmless when there is none or iptables is missing). */
export async function removeLabBridgeRules(lab: string): Promise<number> {
  const list = await iptables(['-S', CHAIN]).catch(() => undefined);
  if (!list?.ok) return 0;
  let n = 0;
  for (const args of labRules(list.stdout, lab)) if ((await iptables(['-D', CHAIN, ...args])).ok) n++;
  return n;
}
