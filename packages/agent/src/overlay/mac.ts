/**
 * A task's MAC on an overlay is derived from its address (02:42 + the four IPv4 bytes, the
 * locally administered prefix Docker uses too). Every host can then program static FDB and
 * neighbour entries for remote tasks from cluster state alone, without learning or asking.
 */
export function macForAddress(ipv4: string): string {
  const parts = ipv4.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${ipv4}`);
  const bytes = parts.map((p) => {
    const n = Number(p);
    if (!/^\d{1,3}$/.test(p) || n > 255) throw new Error(`not an IPv4 address: ${ipv4}`);
    return n;
  });
  return ['02', '42', ...bytes.map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** VXLAN adds 50 bytes (outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8) to every frame. */
export const VXLAN_OVERHEAD = 50;

export function overlayMtu(underlayMtu: number): number {
  const mtu = underlayMtu - VXLAN_OVERHEAD;
  if (mtu < 576) throw new Error(`underlay MTU ${underlayMtu} leaves ${mtu} for the overlay, below IPv4's minimum of 576`);
  return mtu;
}
