import { nodePermission } from '@shoal/core';

export const NATS_CLIENT_PORT = 4222;
export const NATS_ROUTE_PORT = 6222;

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
 * How soon a server gives up on a peer server (a route) or a client whose host went silent.
 * nats-server pings every 2 minutes by default: a route to a host that was cut off stayed "up"
 * for minutes, its subscriptions still counted (requests went to a coordinator that could not
 * answer), and after the heal the stuck TCP connection carried nothing until its retransmission
 * timer fired. Pinged every second and dropped after 2 unanswered (or a write blocked 2 s), a
 * route is re-dialled within about 3 s of a host's loss and as soon as it is back.
 */
export const NATS_SERVER_LIVENESS = ['ping_interval: "1s"', 'ping_max: 2', 'write_deadline: "2s"'] as const;

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
    ...NATS_SERVER_LIVENESS,
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
