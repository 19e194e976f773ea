export { macForAddress, overlayMtu, VXLAN_OVERHEAD } from './overlay/mac.js';
export { OverlayDriver, sandboxName, vethNames } from './overlay/vxlan.js';
export type { OverlaySpec, OverlayHost, LocalEndpoint, RemoteEndpoint, OverlayKernelState } from './overlay/vxlan.js';
export { localKernel, succeeds } from './kernel.js';
export type { Kernel } from './kernel.js';
export { DnsTable, isClusterName } from './dns/table.js';
export type { NameRecord, DnsClient, Lookup } from './dns/table.js';
export { DnsServer } from './dns/server.js';
export type { DnsServerOptions, Upstream } from './dns/server.js';
