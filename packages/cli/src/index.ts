export { main, buildProgram } from './cli.js';
export { formatError, table, EXIT_OK, EXIT_FAILED, EXIT_USAGE } from './output.js';
export type { Io } from './output.js';
export { clusterTarget, ApiClient, type ClusterTarget, type TargetOptions } from './client.js';
export { configPath, loadConfig, saveConfig, saveContext, removeContext, pickContext, type ClusterContext, type CliConfig } from './config.js';
