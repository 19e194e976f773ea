#!/usr/bin/env node
import { main } from './cli.js';

const code = await main(process.argv.slice(2));
// The command is done. Exit now rather than when the event loop empties: nats.js gives up on a
// NATS server that does not answer its connect in time but leaves that socket connecting, which
// would hold the process until the kernel gives up on it (minutes for a host cut off). What was
// printed is written out first.
await Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
process.exit(code);
