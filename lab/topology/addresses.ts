// IPv4 arithmetic for lab networks: where subnets may lie, and deterministic address allocation.
import ipaddr from 'ipaddr.js';
import { ENGINE_POOL, LAB_RANGE } from './types.ts';

export type V4 = ipaddr.IPv4;

export const toInt = (ip: V4) => ip.toByteArray().reduce((n, b) => n * 256 + b, 0);
export const fromInt = (n: number) => ipaddr.IPv4.parse([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.'));

export interface Subnet {
  base: number;
  prefix: number;
  size: number;
}

export function parseIPv4(text: string): V4 | undefined {
  return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text) : undefined;
}

export function parseSubnet(text: string): Subnet | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const ip = parseIPv4(m[1]!);
  const prefix = Number(m[2]);
  if (!ip || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  return { base: toInt(ip) - (toInt(ip) % size), prefix, size };
}

export const contains = (s: Subnet, ip: number) => ip >= s.base && ip < s.base + s.size;
export const overlaps = (a: Subnet, b: Subnet) => a.base < b.base + b.size && b.base < a.base + a.size;
export const formatSubnet = (s: Subnet) => `${fromInt(s.base).toString()}/${s.prefix}`;

/** Host number `offset` of a subnet ('198.18.20.0/24', 100 → '198.18.20.100'); any address inside
 * the subnet may stand for it ('198.18.20.7/24' gives the same). */
export function hostAt(cidr: string, offset: number): string {
  const s = parseSubnet(cidr);
  if (!s) throw new Error(`not an IPv4 subnet: ${cidr}`);
  if (offset <= 0 || offset >= s.size - 1) throw new Error(`host ${offset} is outside ${formatSubnet(s)}`);
  return fromInt(s.base + offset).toString();
}

const LAB = parseSubnet(LAB_RANGE)!;
const POOL = parseSubnet(ENGINE_POOL)!;
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((s) => parseSubnet(s)!);

/** Why an address or subnet may not be used by a lab (undefined: it may). */
export function placementProblem(what: string, s: Subnet): string | undefined {
  if (PRIVATE.some((p) => overlaps(p, s))) {
    return `${what} is in a private range (10/8, 172.16/12, 192.168/16); halab never uses those — lab networks live in 198.18.0.0/16`;
  }
  if (overlaps(POOL, s)) {
    return `${what} is inside the Docker engine's own pool ${ENGINE_POOL}; lab networks must be in 198.18.0.0/16`;
  }
  if (!(s.base >= LAB.base && s.base + s.size <= LAB.base + LAB.size)) {
    return `${what} is outside ${LAB_RANGE}; lab networks must be in 198.18.0.0/16`;
  }
  return undefined;
}

/** Hands out the next free host address of a subnet, from host offset `first` upward. */
export class AddressAllocator {
  private next: number;
  constructor(
    private readonly subnet: Subnet,
    private readonly taken: Set<number>,
    first = 10,
  ) {
    this.next = subnet.base + first;
  }
  allocate(): string | undefined {
    const last = this.subnet.base + this.subnet.size - 2; // broadcast excluded
    while (this.next <= last && this.taken.has(this.next)) this.next++;
    if (this.next > last) return undefined;
    this.taken.add(this.next);
    return fromInt(this.next++).toString();
  }
}
