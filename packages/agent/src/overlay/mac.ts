// The MAC rule lives in core (macForAddress), shared with the coordinator's allocator.

/** VXLAN adds 50 bytes (outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8) to every frame. */
export const VXLAN_OVERHEAD = 50;

export function overlayMtu(underlayMtu: number): number {
  const mtu = underlayMtu - VXLAN_OVERHEAD;
  if (mtu < 576) throw new Error(`underlay MTU ${underlayMtu} leaves ${mtu} for the overlay, below IPv4's minimum of 576`);
  return mtu;
}
