// What the tests need of the wire, in one place: the test plays the leader.
import { macForAddress } from '@shoal/agent';

export { PROTOCOL_VERSION, decodeNodeRegister, decodeTaskStatus } from '@shoal/core';
export type { AssignmentMessage, NetworkAssignment, TaskAssignment, TaskReport } from '@shoal/core';

export function macForAddressOrThrow(address: string): string {
  return macForAddress(address);
}
