export { macForAddress, overlayMtu, VXLAN_OVERHEAD } from './overlay/mac.js';
export { OverlayDriver, sandboxName, vethNames } from './overlay/vxlan.js';
export type { OverlaySpec, OverlayHost, LocalEndpoint, RemoteEndpoint, OverlayKernelState } from './overlay/vxlan.js';
export { localKernel, succeeds } from './kernel.js';
export type { Kernel } from './kernel.js';
