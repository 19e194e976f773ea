import { nodePermission } from '@shoal/core';

export const NATS_CLIENT_PORT = 4222;
export const NATS_ROUTE_PORT = 6222;
export const NATS_PING_INTERVAL_S = 2;
export const NATS_PING_MAX = 3;

export interface NatsUser {
  user: string;
  password: string;
  /** Subjects it may publish and subscribe to; none: everything (the admin). */
  publish?: string[];
  subscribe?: string[];
}

/**
 * The NATS users of a cluster: an admin for the CLI, one user for the coordinators, and one per
 * agent that may touch only its own node's subjects (and read replies to its own requests).
 */
export function natsUsers(cluster: string, passwords: { admin: string; coordinator: string; agent: (nodeId: string) => string }, nodeIds: readonly string[]): NatsUser[] {
  return [
    { user: 'admin', password: passwords.admin },
    { user: 'coordinator', password: passwords.coordinator, publish: [`shoal.${cluster}.>`, '_INBOX.>'], subscribe: [`shoal.${cluster}.>`, '_INBOX.>'] },
    ...nodeIds.map((id) => ({
      user: agentUser(id),
      password: passwords.agent(id),
      publish: [nodePermission(cluster, id)],
      subscribe: [nodePermission(cluster, id), '_INBOX.>'],
    })),
  ];
}

export function agentUser(nodeId: string): string {
  return `agent-${nodeId}`;
}

const q = (s: string): string => JSON.stringify(s);

/**
 * nats-server's configuration for one coordinator host. With several coordinators the servers
 * form a cluster over routes, themselves guarded by a password, so a stranger cannot join.
 */
export function natsConfig(o: { serverName: string; cluster: string; users: readonly NatsUser[]; routes: readonly string[]; routePassword: string }): string {
  const users = o.users.map((u) => {
    const perms =
      u.publish || u.subscribe
        ? `, permissions: { publish: { allow: [${(u.publish ?? []).map(q).join(', ')}] }, subscribe: { allow: [${(u.subscribe ?? []).map(q).join(', ')}] } }`
        : '';
    return `    { user: ${q(u.user)}, password: ${q(u.password)}${perms} }`;
  });
  const lines = [
    '# Written by shoal cluster bootstrap: changes here are overwritten on its next run.',
    `server_name: ${q(o.serverName)}`,
    `listen: "0.0.0.0:${NATS_CLIENT_PORT}"`,
    // A route (or client) to a host that is cut off is dropped after 3 unanswered pings, 6–8 s:
    // until then the others keep its coordinator in the API's queue group and a third of the
    // requests go nowhere. nats-server's default (2 min, 2 pings) kept that up for minutes.
    `ping_interval: "${NATS_PING_INTERVAL_S}s"`,
    `ping_max: ${NATS_PING_MAX}`,
    'authorization {',
    '  users: [',
    ...users,
    '  ]',
    '}',
  ];
  if (o.routes.length > 0) {
    lines.push(
      'cluster {',
      `  name: ${q(`shoal-${o.cluster}`)}`,
      `  listen: "0.0.0.0:${NATS_ROUTE_PORT}"`,
      `  authorization { user: "route", password: ${q(o.routePassword)} }`,
      `  routes: [${o.routes.map((r) => q(`nats-route://route:${o.routePassword}@${r}:${NATS_ROUTE_PORT}`)).join(', ')}]`,
      '}',
    );
  }
  return lines.join('\n') + '\n';
}
