export { RaftNode, RaftUsageError } from './core/node.js';
export { RaftConfigError } from './core/raft.js';
export { NONE, entrySize, message, sendableBeforePersist } from './core/types.js';
export { SeededRng } from './core/rng.js';
export { crc32 } from './core/checksum.js';
export { applyConfChange } from './core/confchange.js';
export { MemoryStorage, StorageError } from './storage/memory.js';
export { bootstrap } from './storage/bootstrap.js';
export { FileStorage, StorageCorruptError } from './storage/file.js';
export type { FileStorageOptions, OpenReport } from './storage/file.js';

export type { FollowerStatus, Status } from './core/node.js';
export type { ProposeResult, RaftOptions, RefuseReason } from './core/raft.js';
export type { ProgressState } from './core/progress.js';
export type { Rng } from './core/rng.js';
export type {
  ConfChange,
  ConfChangeType,
  ConfEntry,
  ConfState,
  Entry,
  HardState,
  Message,
  MessageType,
  NodeId,
  NormalEntry,
  ReadState,
  Ready,
  RejectReason,
  Role,
  Snapshot,
  SnapshotChunk,
  SnapshotMeta,
  SoftState,
} from './core/types.js';
export type { Storage, StorageWriter } from './storage/storage.js';

export { Simulation, runSimulation } from './sim/simulator.js';
export { Invariants, InvariantViolation } from './sim/invariants.js';
export { KvStateMachine, encodeOp, decodeOp } from './sim/state-machine.js';
export type { SimConfig, SimReport, SimStats } from './sim/simulator.js';
export { checkLinearizable } from './sim/linearizability.js';
export type { HistoryOp } from './sim/history.js';
export type { LinearizabilityResult } from './sim/linearizability.js';
export type { KvOp, KvResult } from './sim/state-machine.js';
export type { LogView } from './sim/invariants.js';

export { RaftDriver, RaftError } from './driver/driver.js';
export { MemoryHub } from './driver/transport.js';
export { decodeMessage, encodeMessage } from './driver/codec.js';
export { binarySize, decodeBinary, encodeBinary, writeBinary } from './driver/binary-codec.js';
export type { DriverOptions, DriverState, DurableStorage, RaftErrorCode, StateMachine } from './driver/driver.js';
export type { Transport } from './driver/transport.js';
export { TcpTransport } from './driver/tcp.js';
export type { Endpoint, TcpRejectReason, TcpTransportOptions } from './driver/tcp.js';
export { decodeKvOp, encodeKvOp, startKvServer } from './example/kv-server.js';
export type { KvServerOptions } from './example/kv-server.js';
