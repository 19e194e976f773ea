export { main, buildProgram } from './cli.js';
export { formatError, table, EXIT_OK, EXIT_FAILED, EXIT_USAGE } from './output.js';
export type { Io } from './output.js';
