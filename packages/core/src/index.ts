export { ShoalError, isShoalError } from './errors.js';
export { backoffMs } from './backoff.js';
export { parseSettingsFile, setting } from './settings.js';
export type { SettingReader } from './settings.js';

// The object model.
export {
  ID_PATTERN,
  NAME_PATTERN,
  IdSchema,
  NameSchema,
  LabelsSchema,
  MetaSchema,
  ResourcesSchema,
} from './model/common.js';
export type { Labels, Meta, Resources } from './model/common.js';
export {
  NODE_ROLES,
  NODE_AVAILABILITIES,
  NODE_STATES,
  NodeSchema,
  NodeSpecSchema,
  NodeResourcesSchema,
  PlatformSchema,
} from './model/node.js';
export type { Node, NodeSpec, NodeRole, NodeAvailability, NodeState, NodeResources, Platform } from './model/node.js';
export {
  NETWORK_DRIVERS,
  NetworkSchema,
  NetworkSpecSchema,
  NetworkAllocationSchema,
  IpamPoolSchema,
  networkScope,
} from './model/network.js';
export type { Network, NetworkSpec, NetworkDriver, NetworkAllocation, IpamPool } from './model/network.js';
export {
  ServiceSchema,
  ServiceSpecSchema,
  ContainerSpecSchema,
  PortSchema,
  DEFAULT_UPDATE_CONFIG,
  DEFAULT_RESTART_POLICY,
  RESTART_CONDITIONS,
  MAX_REPLICAS,
  UPDATE_STATES,
  DYNAMIC_PORT_RANGE,
} from './model/service.js';
export type {
  Service,
  ServiceSpec,
  ServiceMode,
  ContainerSpec,
  Placement,
  RestartPolicy,
  UpdateConfig,
  Healthcheck,
  NetworkMode,
  ServiceNetwork,
  Port,
  EndpointSpec,
  UpdateStatus,
} from './model/service.js';
export {
  TASK_STATES,
  TaskSchema,
  TaskStateSchema,
  isTerminalTaskState,
  canTransitionTask,
  explainTaskTransition,
  taskName,
} from './model/task.js';
export type { Task, TaskState, DesiredTaskState, TaskStatus, TaskAttachment } from './model/task.js';
export { CLUSTER_OBJECT_ID, JOIN_TOKEN_ROLES, JOIN_TOKEN_PATTERN, JoinTokenSchema, ClusterSchema, formatJoinToken, joinTokenRole } from './model/cluster.js';
export type { Cluster, JoinTokenRole } from './model/cluster.js';
export { StackSchema, StackSpecSchema } from './model/stack.js';
export type { Stack, StackSpec, StackNetwork } from './model/stack.js';
export { planStackDeploy } from './model/stack-plan.js';
export type { StackPlan, DeployedStack } from './model/stack-plan.js';

// The wire.
export { PROTOCOL_VERSION } from './protocol/decode.js';
export {
  apiSubject,
  apiWildcard,
  nodeSubject,
  nodeWildcard,
  nodePermission,
  nodeLogsSubjects,
  eventsSubject,
  raftSubject,
  parseSubject,
  NODE_CHANNELS,
} from './protocol/subjects.js';
export type { ParsedSubject, NodeChannel } from './protocol/subjects.js';
export {
  API_VERBS,
  decodeApiRequest,
  decodeApiResponse,
  apiRequest,
  okResponse,
  errorResponse,
  unwrapResponse,
  isWriteVerb,
  isRetriableWrite,
  isLeaderVerb,
} from './protocol/api.js';
export type { ApiRequest, ApiRequestBody, ApiVerb, ApiResponse, ApiError } from './protocol/api.js';
export { decodeNodeRegister, decodeNodeRegisterReply } from './protocol/registration.js';
export type { NodeRegister, NodeRegisterReply } from './protocol/registration.js';
export { decodeHeartbeat } from './protocol/heartbeat.js';
export type { Heartbeat, HostLoad } from './protocol/heartbeat.js';
export { decodeMemberReport, type MemberReport } from './protocol/member.js';
export { decodeLogsRequest, decodeLogsMessage } from './protocol/logs.js';
export type { LogsRequest, LogsMessage } from './protocol/logs.js';
export { decodeAssignment, applyAssignment } from './protocol/assignment.js';
export { applyNetworkPatch, canonicalNetwork, compareIpv4, diffNetwork } from './protocol/network.js';
export type { NetworkPatch, NetworkPeer, VipAssignment } from './protocol/network.js';
export type {
  AssignmentMessage,
  FullAssignment,
  AssignmentDelta,
  AssignmentSet,
  AssignmentOutcome,
  TaskAssignment,
  NetworkAssignment,
  DnsRecord,
} from './protocol/assignment.js';
export { decodeTaskStatus } from './protocol/status.js';
export type { TaskStatusMessage, TaskReport } from './protocol/status.js';
export { decodeEvent, EventSchema } from './protocol/events.js';
export type { ShoalEvent } from './protocol/events.js';

// IPAM arithmetic.
export { parseIpv4, formatIpv4, isIpv4 } from './ipam/ipv4.js';
export { macForAddress } from './ipam/mac.js';
export {
  parseCidr,
  formatCidr,
  cidrSize,
  cidrFirst,
  cidrLast,
  cidrContains,
  cidrInside,
  cidrsOverlap,
  firstUsable,
} from './ipam/cidr.js';
export type { Cidr } from './ipam/cidr.js';
export { ipamProblems, resolveIpam, MAX_SUBNET_PREFIX } from './ipam/config.js';
export type { IpamInput, IpamConfig, IpamProblem } from './ipam/config.js';
export { carveSubnet, findOverlap, DEFAULT_POOL, DEFAULT_SUBNET_PREFIX } from './ipam/pool.js';
export { AddressAllocator } from './ipam/allocator.js';
export { PortAllocator } from './ipam/ports.js';
export type { PortAllocatorState } from './ipam/ports.js';
export type { AddressAllocatorState } from './ipam/allocator.js';

// Placement constraints.
export {
  parseConstraint,
  matchesConstraint,
  matchesConstraints,
  explainMismatch,
  constraintTarget,
} from './constraints.js';
export type { Constraint, ConstraintField, ConstraintTarget } from './constraints.js';

// Compose files into stack specs.
export { parseCompose, loadStack } from './compose/parse.js';
export type { ComposeOptions, ComposeResult } from './compose/parse.js';
export type { ComposeFile } from './compose/load.js';
export { formatDiagnostic, formatPath } from './compose/diagnostics.js';
export type { Diagnostic } from './compose/diagnostics.js';
export { interpolateString } from './compose/interpolate.js';
export { parseDotEnv } from './compose/dotenv.js';
export type { Env } from './compose/interpolate.js';
export { parseDuration, parseBytes, parseCpus, splitCommand } from './compose/units.js';
export { parseShortPort, MAX_PORT_RANGE } from './compose/ports.js';

// Rules of specs beyond their schema.
export { serviceSpecProblems, networkSpecProblems, fixedAddressProblems } from './model/checks.js';
export type { SpecProblem } from './model/checks.js';

// Sizes for people.
export { formatBytes, formatCpus } from './format.js';
export { NATS_DIAL_TIMEOUT_MS, NATS_MAX_PINGS_OUT, NATS_PING_INTERVAL_MS, natsLinkOptions, natsUrlHost, orderNatsServers, splitNatsServers } from './protocol/nats-link.js';
export type { NatsLinkOptions } from './protocol/nats-link.js';
