// Run inside a client container's network namespace (nsenter -n; node and this file come from
// the machine): asks the container's resolver for a name every `every` ms, for `seconds` at most,
// and prints one JSON line per round: {"t":ms,"a":[addresses]} or {"t":ms,"err":"..."}, t being
// Date.now() when the question was sent. Rounds overlap, so a slow answer holds back no other.
// Stops on SIGTERM or when the time is up.
import { Resolver } from 'node:dns/promises';

const [resolverAddress, name, everyArg, secondsArg] = process.argv.slice(2);
const every = Number(everyArg ?? 100);
const until = Date.now() + Number(secondsArg ?? 600) * 1000;
const resolver = new Resolver({ timeout: 1000, tries: 1 });
resolver.setServers([resolverAddress]);

async function round() {
  const t = Date.now();
  try {
    const a = await resolver.resolve4(name);
    process.stdout.write(`${JSON.stringify({ t, a: a.sort() })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ t, err: err.code ?? String(err) })}\n`);
  }
}

const timer = setInterval(() => {
  if (Date.now() > until) {
    clearInterval(timer);
    return;
  }
  void round();
}, every);
process.on('SIGTERM', () => {
  clearInterval(timer);
  // the rounds under way answer within the resolver's 1 s timeout
  setTimeout(() => process.exit(0), 1100);
});
