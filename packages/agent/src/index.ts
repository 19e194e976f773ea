export { macForAddress, overlayMtu, VXLAN_OVERHEAD } from './overlay/mac.js';
