// The store: the replicated state machine.
export { Store } from './store/store.js';
export { decodeCommand, MAX_BATCH } from './store/commands.js';
export { decodeSnapshot, SNAPSHOT_FORMAT } from './store/snapshot.js';
export { OBJECT_KINDS } from './store/objects.js';
export { StoreMachine, encodeMachineSnapshot, decodeMachineSnapshot, MACHINE_SNAPSHOT_FORMAT } from './state-machine.js';
export type { MachineSnapshot, StoreEntry } from './state-machine.js';
export { AppliedRequests, REQUESTS_KEPT, REQUESTS_KEPT_MS } from './store/requests.js';
export type { AppliedRequest, RequestTag } from './store/requests.js';

// The allocator.
export { VniPool, VNI_MIN, VNI_MAX } from './allocator/vni.js';
export { Allocator, isClusterIpam, taskOwner, vipOwner } from './allocator/allocator.js';
export { SubnetPool, DEFAULT_SUBNET_POOL_CONFIG } from './allocator/subnets.js';
export { NetworkAddresses } from './allocator/addresses.js';
export { allocatePass, isAllocated } from './allocator/pass.js';

// The scheduler.
export { schedule } from './scheduler/scheduler.js';
export { schedulePass, schedulable } from './scheduler/pass.js';
export { explainUnplaced } from './scheduler/explain.js';

// The orchestrator.
export { orchestrate } from './orchestrator/orchestrator.js';
export { restartDecision } from './orchestrator/restart.js';
export { rollingUpdateStep } from './orchestrator/update.js';
export { reconcileReplicated } from './orchestrator/replicated.js';
export { reconcileGlobal } from './orchestrator/global.js';
export { releaseLostNodes } from './orchestrator/node-loss.js';
export { WorkingSet } from './orchestrator/working-set.js';
export { DEFAULT_HISTORY_LIMIT } from './orchestrator/context.js';
export { updatedService, rolledBackService } from './orchestrator/service-update.js';
export { shapesTasksDifferently } from './store/task-shaping.js';

export type { EntryPosition, ApplyResult, ChangeListener } from './store/store.js';
export type { Command, ObjectCommand, BatchCommand, CreateCommand, UpdateCommand, DeleteCommand } from './store/commands.js';
export type { StoreChange } from './store/changes.js';
export type { StoreSnapshot } from './store/snapshot.js';
export type { ObjectKind, ObjectOf, StoredObject } from './store/objects.js';
export type { AllocatorConfig, AllocatorContents } from './allocator/allocator.js';
export type { SubnetPoolConfig } from './allocator/subnets.js';
export type { AllocatorView, AllocationPass } from './allocator/pass.js';
export type { SchedulerInput, Decision } from './scheduler/scheduler.js';
export type { SchedulerView } from './scheduler/pass.js';
export type { Failure } from './scheduler/filters.js';
export type { OrchestratorView, OrchestrationPass } from './orchestrator/orchestrator.js';
export type { OrchestratorContext } from './orchestrator/context.js';
export type { RestartDecision } from './orchestrator/restart.js';

// The dispatcher: what each node is sent.
export { assignmentFor, taskName } from './dispatcher/assignment.js';
export { diffAssignments } from './dispatcher/delta.js';
export type { NodeAssignment, AssignmentView } from './dispatcher/assignment.js';
export type { AssignmentChanges } from './dispatcher/delta.js';
export { Dispatcher } from './dispatcher/dispatcher.js';
export type { DispatcherOptions } from './dispatcher/dispatcher.js';
export { natsBus } from './dispatcher/bus.js';
export { HeardNodes } from './dispatcher/heard.js';
export type { Bus, BusMessage } from './dispatcher/bus.js';
export { Manager } from './manager.js';
export type { ManagerOptions } from './manager.js';
export { ApiServer, leaderApiSubject, memberApiSubject } from './api/server.js';
export type { ApiServerOptions } from './api/server.js';
export { handle as handleApiRequest, unconditional } from './api/handlers.js';
export { requestKey } from './api/once.js';
export type { ApiBackend } from './api/handlers.js';
export { checkJoinToken, clusterTokens, createClusterObject, newJoinToken } from './api/tokens.js';
export { coordinatorStatusSubject, coordinatorApiPrefix, storeDigest } from './api/status.js';
export type { CoordinatorStatus } from './api/status.js';
export { parseCoordinatorConfigFile, resolveCoordinatorConfig, parseMembers, parseEndpoint, parseMemberId, parseCount, COORDINATOR_DEFAULTS, COUNT_SETTINGS } from './config.js';
export type { CoordinatorConfig } from './config.js';
export { MemberDirectory, asMemberRecord } from './membership/directory.js';
export type { MemberRecord } from './membership/directory.js';
export { Membership, joinSubject, requestJoin } from './membership/membership.js';
export type { JoinRequest, JoinReply, MembershipHost } from './membership/membership.js';
export { planDemote, planPromote, checkJoin, majority } from './membership/plan.js';
export { nodeRoleUpdates } from './membership/roles.js';
export type { DemotePlan } from './membership/plan.js';
export { EventRing, DEFAULT_RING_SIZE } from './events/ring.js';
export type { EventQuery, EventPage } from './events/ring.js';
export { eventsFromChanges } from './events/from-changes.js';
export type { NodeLiveness } from './dispatcher/dispatcher.js';
export type { ClusterStatus, MemberRow, NodeStatusRow, RaftView, ServiceStatusRow } from './api/cluster-status.js';
export { memberRows } from './api/cluster-status.js';
