// One line of `ip -o monitor address` or `ip -o address show` (iproute2), reduced to what the
// VIP watcher needs: which IPv4 address appeared on or left which interface. Pure; unit-tested.
//   "3: eth0    inet 198.18.20.100/24 scope global secondary eth0\       valid_lft forever …"
//   "Deleted 3: eth0    inet 198.18.20.100/24 scope global secondary eth0\ …"
// `monitor` may prefix a line with "[ADDR]" (when it watches several objects) or a timestamp.

export interface AddressEvent {
  deleted: boolean;
  ifname: string;
  /** Without its prefix length. */
  address: string;
}

const LINE = /^(?:\[[^\]]*\]\s*)*(Deleted\s+)?\d+:\s+([^\s:@]+)(?:@\S+)?\s+inet\s+(\d+\.\d+\.\d+\.\d+)\//;

export function parseAddressLine(line: string): AddressEvent | undefined {
  const m = LINE.exec(line.trim());
  return m ? { deleted: !!m[1], ifname: m[2]!, address: m[3]! } : undefined;
}
