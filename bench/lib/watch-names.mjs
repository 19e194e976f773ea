// Run inside a client container's network namespace (nsenter -n, so this file and node come from
// the machine): asks the container's resolver for a name every `every` ms and connects to each
// address it gives, and says when every one of `expected` addresses answers. Rounds overlap: one
// waiting out a dead address (a cut host drops packets, so only the connect timeout ends it) does
// not hold back the next, so the moment is seen within a round, not within a timeout.
// Prints JSON lines: {"names":ms} the first time the name gives `expected` addresses, then
// {"done":ms} (ms: Date.now() when the last connect of the first complete round succeeded).
//
// With `expected` = "stream" it only resolves, and prints every round as {"t":ms,"a":[addresses]}
// (t: when the round started; "a" null if the resolver did not answer within 2 s), until killed
// or until `maxMs` (the 4th argument) has passed; a round every `every` ms (the 5th): what a live task's name gaps are computed from
// (nameGaps in probe.mjs).
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';

const [resolverAddress, name, expectedArg, portArg, everyArg, connectMsArg] = process.argv.slice(2);
const STREAM = expectedArg === 'stream';
const expected = Number(expectedArg);
const port = Number(portArg ?? 7000);
const every = Number(everyArg ?? 100);
const connectMs = Number(connectMsArg ?? 2000);
const resolver = new Resolver({ timeout: STREAM ? 2000 : 1000, tries: 1 });
resolver.setServers([resolverAddress]);

if (STREAM) {
  const maxMs = Number(portArg ?? 600_000);
  const end = Date.now() + maxMs;
  let pending = 0;
  const timer = setInterval(() => {
    if (Date.now() > end) {
      clearInterval(timer);
      return;
    }
    // at most a timeout's worth of rounds waiting at once
    if (pending >= 22) return;
    pending++;
    const t = Date.now();
    resolver.resolve4(name).then(
      (a) => process.stdout.write(`${JSON.stringify({ t, a })}\n`),
      (err) => process.stdout.write(`${JSON.stringify({ t, a: err.code === 'ENOTFOUND' || err.code === 'ENODATA' ? [] : null })}\n`),
    ).finally(() => pending--);
  }, Number(everyArg ?? 100));
}

/** Whether address:port accepts a connection and says something (the replica's hostname). */
function answers(address) {
  return new Promise((resolve) => {
    let got = 0;
    const sock = connect({ host: address, port });
    const timer = setTimeout(() => sock.destroy(), connectMs);
    sock.on('data', (d) => (got += d.length));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(got > 0);
    });
  });
}

let named = false;
let finished = false;
let inFlight = 0;
async function round() {
  inFlight++;
  try {
    const addrs = await resolver.resolve4(name).catch(() => []);
    if (finished) return;
    if (addrs.length >= expected && !named) {
      named = true;
      process.stdout.write(`${JSON.stringify({ names: Date.now() })}\n`);
    }
    if (addrs.length !== expected) return;
    const ok = await Promise.all(addrs.map(answers));
    if (!finished && ok.every(Boolean)) {
      finished = true;
      process.stdout.write(`${JSON.stringify({ done: Date.now() })}\n`);
      process.exit(0);
    }
  } finally {
    inFlight--;
  }
}

if (!STREAM) {
  // at most a timeout's worth of rounds waiting at once
  const cap = Math.ceil(connectMs / every) + 2;
  setInterval(() => {
    if (inFlight < cap) void round();
  }, every);
  void round();
}
