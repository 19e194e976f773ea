#!/usr/bin/env node
// One entry, two roles: the agent, or a DNS worker its resolver forked (see DnsServerOptions.workers).
import { DNS_WORKER_ENV, serveDnsWorker } from './dns/worker.js';

if (process.env[DNS_WORKER_ENV] === '1') serveDnsWorker();
else await import('./main.js');
