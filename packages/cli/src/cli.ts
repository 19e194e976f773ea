import { Command, CommanderError } from 'commander';
import { clusterCommand } from './commands/bootstrap.js';
import { networkCommand } from './commands/network.js';
import { nodeCommand } from './commands/node.js';
import { serviceCommand } from './commands/service.js';
import { stackCommand } from './commands/stack.js';
import { watchCommands } from './commands/watch.js';
import { labCommand } from './commands/lab.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, formatError, processIo, type Io } from './output.js';

export function buildProgram(io: Io, setExitCode: (code: number) => void): Command {
  const program = new Command('shoal')
    .description('Shoal: run containers across a handful to a few hundred Docker hosts')
    .version('0.1.0')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (str, write) => write(str) })
    .enablePositionalOptions()
    .exitOverride();
  program.addCommand(clusterCommand(io, setExitCode));
  for (const cmd of [nodeCommand(io), networkCommand(io), serviceCommand(io), stackCommand(io), ...watchCommands(io)]) program.addCommand(cmd);
  program.addCommand(labCommand(io, setExitCode));
  // Subcommands built apart do not inherit these: set them on the whole tree.
  const inherit = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (str, write) => write(str) });
      sub.showHelpAfterError('(add --help for usage)');
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

/** Runs the CLI and returns its exit code; the process wrapper is in bin.ts. */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  let code = EXIT_OK;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version "errors" are successes; the rest are usage mistakes
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    io.err(formatError(err));
    return EXIT_FAILED;
  }
}
