import { REMOTE, type FilePlan, type ServiceName, type ServiceSpec } from './plan.js';
import { shq } from './remote-host.js';
import { pidFiles } from './remote/supervisor.js';

/** How a host keeps Shoal's daemons running: systemd where it runs, else Shoal's own supervisor. */
export type ServiceManager = 'systemd' | 'supervisor';

export function unitName(name: ServiceName): string {
  return `shoal-${name}.service`;
}

/** systemd quotes ExecStart words with double quotes, `\` and `"` escaped, `%` doubled, `$` doubled. */
function unitWord(w: string): string {
  return /^[A-Za-z0-9_./:=,@+-]+$/.test(w) ? w : `"${w.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

/** The unit file for a daemon, restarted by systemd as the supervisor would restart it. */
export function systemdUnit(spec: ServiceSpec): string {
  return [
    '# Written by shoal cluster bootstrap: changes here are overwritten on its next run.',
    '[Unit]',
    `Description=Shoal ${spec.name}`,
    'Wants=network-online.target',
    `After=network-online.target${spec.name === 'agent' ? ' docker.service' : ''}${spec.name === 'coordinator' ? ' shoal-nats.service' : ''}`,
    '',
    '[Service]',
    `ExecStart=${spec.argv.map(unitWord).join(' ')}`,
    ...(Object.keys(spec.env).length > 0 ? [`EnvironmentFile=${envFile(spec.name)}`] : []),
    ...(spec.reload ? ['ExecReload=/bin/kill -HUP $MAINPID'] : []),
    'Restart=always',
    'RestartSec=2',
    'TimeoutStopSec=15',
    `StandardOutput=append:${spec.log}`,
    `StandardError=append:${spec.log}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

function envFile(name: ServiceName): string {
  return `${REMOTE.services}/${name}.env`;
}

/** Files systemd needs besides the spec (the unit and its environment). */
export function systemdFiles(spec: ServiceSpec): FilePlan[] {
  const files: FilePlan[] = [{ path: `/etc/systemd/system/${unitName(spec.name)}`, content: systemdUnit(spec), mode: 0o644 }];
  if (Object.keys(spec.env).length > 0) {
    files.push({ path: envFile(spec.name), content: Object.entries(spec.env).map(([k, v]) => `${k}=${v}\n`).join(''), mode: 0o600 });
  }
  return files;
}

/** Prints `running SUPERVISOR_PID DAEMON_PID` or `stopped`. */
export function statusScript(m: ServiceManager, name: ServiceName): string {
  if (m === 'systemd') {
    return `if systemctl is-active --quiet ${unitName(name)}; then echo "running - $(systemctl show -p MainPID --value ${unitName(name)})"; else echo stopped; fi`;
  }
  const p = pidFiles(REMOTE.run, name);
  // the pid must still be our supervisor: after a reboot the number may belong to anything
  return `p=$(cat ${p.supervisor} 2>/dev/null); if [ -n "$p" ] && kill -0 "$p" 2>/dev/null && grep -q supervise /proc/"$p"/cmdline 2>/dev/null; then echo "running $p $(cat ${p.daemon} 2>/dev/null)"; else echo stopped; fi`;
}

export function stopScript(m: ServiceManager, name: ServiceName): string {
  if (m === 'systemd') return `systemctl disable --now ${unitName(name)} 2>/dev/null; true`;
  const p = pidFiles(REMOTE.run, name);
  return [
    `p=$(cat ${p.supervisor} 2>/dev/null); d=$(cat ${p.daemon} 2>/dev/null)`,
    `if [ -n "$p" ] && kill -0 "$p" 2>/dev/null && grep -q supervise /proc/"$p"/cmdline 2>/dev/null; then`,
    '  kill -TERM "$p"',
    '  i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done',
    '  kill -KILL "$p" 2>/dev/null',
    'fi',
    // a supervisor killed hard leaves its daemon behind
    `if [ -n "$d" ] && kill -0 "$d" 2>/dev/null; then kill -TERM "$d"; sleep 1; kill -KILL "$d" 2>/dev/null; fi`,
    `rm -f ${p.supervisor} ${p.daemon}; true`,
  ].join('\n');
}

/** Starts a stopped daemon and prints its pid once it runs. */
export function startScript(m: ServiceManager, spec: ServiceSpec, nodePath: string, bundlePath: string): string {
  if (m === 'systemd') {
    return `mkdir -p ${REMOTE.logDir} && systemctl daemon-reload && systemctl enable ${unitName(spec.name)} && systemctl restart ${unitName(spec.name)} && systemctl show -p MainPID --value ${unitName(spec.name)}`;
  }
  const p = pidFiles(REMOTE.run, spec.name);
  return [
    `mkdir -p ${REMOTE.run} ${REMOTE.logDir}`,
    `rm -f ${p.daemon}`,
    `setsid ${shq(nodePath)} ${shq(bundlePath)} supervise ${shq(`${REMOTE.services}/${spec.name}.json`)} ${REMOTE.run} >>${shq(spec.log)} 2>&1 </dev/null &`,
    `i=0; while [ ! -s ${p.daemon} ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done`,
    `cat ${p.daemon}`,
  ].join('\n');
}

export function reloadScript(m: ServiceManager, name: ServiceName): string {
  if (m === 'systemd') return `systemctl reload ${unitName(name)}`;
  return `kill -HUP "$(cat ${pidFiles(REMOTE.run, name).daemon})"`;
}
