export { VniPool, VNI_MIN, VNI_MAX } from './allocator/vni.js';
