/**
 * goip-config: a thin Node-RED adapter over GoipGateway (one UDP socket, the send queue, the
 * commands), shared with the flow nodes: options from the editor, credentials, status, logs and
 * the /goip/:id/lines admin endpoint.
 */
import os from 'node:os';
import path from 'node:path';
import { type GatewayStatus, GoipGateway, type WarningSource } from '../gateway';
import { SqliteUnavailableError } from '../outbox';
import { pgStore } from '../outbox/postgres/pg-store';
import {
  bulkOptions,
  type CommandProperties,
  commandOptions,
  ConfigError,
  type ConfigProperties,
  type DatabaseProperties,
  type InboxProperties,
  inboxOptions,
  parseDevices,
  type ReceiveProperties,
  receiveOptions,
  type QueueProperties,
  queueOptions,
  quietHoursOptions,
  type SendingProperties,
  serverOptions,
  sharedStoreSettings,
} from './config-options';
import type { GoipConfigNode } from './config-node';
import { type FleetProperties, fleetBulkOptions, fleetOptions } from './fleet-options';
import { registerInboxRoute } from './inbox-route';
import { observeGateway, registerMetricsRoute } from './observe';
import type { Node, NodeAPI, NodeDef, NodeStatus } from './red';
import { nodeStatus } from './status';

/** The catalog key of each source of gateway warnings. */
const WARNING_KEYS: Readonly<Record<WarningSource, string>> = {
  socket: 'goip-config.warnings.socket',
  commands: 'goip-config.warnings.commands',
  sending: 'goip-config.warnings.sending',
  'status-reports': 'goip-config.warnings.statusReports',
  listener: 'goip-config.warnings.listener',
  stop: 'goip-config.warnings.stopping',
  fleet: 'goip-config.fleet.warning',
  parts: 'goip-config.warnings.parts',
  inbox: 'goip-config.warnings.inbox',
  store: 'goip-config.warnings.store',
};

type Translate = NodeAPI['_'];

export = function register(RED: NodeAPI): void {
  function GoipConfig(this: GoipConfigNode, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const users = new Set<Node>();
    let configFailure: string | null = null;
    let stopObserving = (): void => undefined;
    node.gateway = null;
    node.server = null;
    node.sending = null;
    node.sendingError = null;
    node.commands = null;

    const refreshUsers = (): void => {
      const status = node.statusText();
      for (const user of users) user.status(status);
      node.emit('goip:status', status);
    };

    node.statusText = (): NodeStatus => {
      if (configFailure !== null) return nodeStatus('failed', shortReason(configFailure));
      return statusView(node.gateway?.status() ?? { state: 'idle' }, RED._);
    };
    node.register = (user) => {
      users.add(user);
      user.status(node.statusText());
    };
    node.deregister = (user) => {
      users.delete(user);
    };
    node.subscribe = (listener) => {
      const gateway = node.gateway;
      if (gateway === null) return () => undefined;
      gateway.on('event', listener);
      return () => gateway.off('event', listener);
    };

    try {
      const devices = parseDevices(node.credentials?.devices);
      const shared = sharedStoreSettings(def as DatabaseProperties, node.credentials?.connectionString, os.hostname());
      const storePath = shared === null ? storeFile(def, RED.settings.userDir, node.id) : null;
      // The password stays in the credential: the pool gets it, no log or status shows it.
      const store =
        shared === null
          ? (storePath as string)
          : pgStore(
              { connectionString: shared.connectionString, schema: shared.schema, instance: shared.instance, leaseMs: shared.leaseMs },
              (err) => node.warn(RED._('goip-config.warnings.store', { message: (err as Error).message })),
              (from, to) => node.log(RED._('goip-config.log.migrated', { schema: shared.schema, from, to })),
            );
      const gateway = new GoipGateway({
        server: serverOptions(def as ConfigProperties, devices),
        sending: { ...bulkOptions(def as SendingProperties), ...fleetBulkOptions(def as FleetProperties), ...quietHoursOptions(def as QueueProperties) },
        commands: commandOptions(def as CommandProperties),
        fleet: fleetOptions(def as FleetProperties, devices.map((device) => device.id)),
        store,
        ...receiveOptions(def as ReceiveProperties),
        ...inboxOptions(def as InboxProperties),
        queue: queueOptions(def as QueueProperties),
      });
      node.gateway = gateway;
      node.server = gateway.server;
      node.commands = gateway.commands;
      node.sending = gateway.sending;
      stopObserving = observeGateway(RED, node, gateway, def);
      const driver = gateway.storeDriver();
      if (driver !== null) node.log(RED._('goip-config.log.store', { path: storePath, driver }));
      if (shared !== null) node.log(RED._('goip-config.log.sharedStore', { schema: shared.schema, instance: shared.instance }));
      const storeError = gateway.sendingError;
      if (storeError !== null) {
        const message = storeError.message;
        node.sendingError = RED._('goip-config.status.storeFailed', { message });
        node.error(
          storeError instanceof SqliteUnavailableError
            ? RED._('goip-config.errors.storeDrivers', { message, drivers: storeError.reasons.join('; ') })
            : RED._('goip-config.errors.store', { message }),
        );
      }
      if (devices.length === 0) node.warn(RED._('goip-config.warnings.noLines'));
      if (storeError !== null && inboxOptions(def as InboxProperties).inbox) node.warn(RED._('goip-config.warnings.inboxUnavailable', { message: storeError.message }));
      let lastBindFailure: string | null = null;
      gateway.on('status', (status) => {
        if (status.state === 'retrying' && status.error.message !== lastBindFailure) {
          lastBindFailure = status.error.message;
          node.error(RED._('goip-config.errors.notStarted', { message: status.error.message }));
        }
        refreshUsers();
      });
      gateway.on('warning', ({ source, error }) => node.warn(RED._(WARNING_KEYS[source], { message: error.message })));
      gateway.start().then(
        (address) => {
          if (address !== null) node.log(RED._('goip-config.log.listening', { address: address.address, port: address.port, lines: devices.length }));
        },
        (err: Error) => node.error(RED._('goip-config.errors.notStarted', { message: err.message })),
      );
    } catch (err) {
      const message = err instanceof ConfigError ? RED._(err.key, err.substitutions) : String(err);
      configFailure = message;
      node.error(RED._('goip-config.errors.config', { message }));
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      users.clear();
      const gateway = node.gateway;
      node.gateway = null;
      node.server = null;
      node.sending = null;
      node.commands = null;
      if (gateway === null) return done();
      stopObserving();
      gateway.removeAllListeners('event');
      gateway.removeAllListeners('status');
      void gateway.stop().then(done, done);
    });
  }

  RED.nodes.registerType('goip-config', GoipConfig as (this: Node, def: NodeDef) => void, {
    credentials: { devices: { type: 'text' }, connectionString: { type: 'password' } },
  });

  RED.httpAdmin.get('/goip/:id/lines', RED.auth.needsPermission('goip-config.read'), (req, res) => {
    const node = RED.nodes.getNode(req.params.id) as GoipConfigNode | null;
    if (node === null || node.type !== 'goip-config') {
      res.status(404).json({ error: 'no deployed goip-config node with this id' });
      return;
    }
    const server = node.server;
    res.json({
      listening: server?.address() ?? null,
      status: node.statusText(),
      lines: node.gateway?.lineViews() ?? [],
      counters: server?.counters ?? null,
    });
  });
  registerInboxRoute(RED);
  registerMetricsRoute(RED);
};

/** The status flow nodes show for the gateway's. */
function statusView(status: GatewayStatus, _: Translate): NodeStatus {
  switch (status.state) {
    case 'idle':
    case 'starting':
      return nodeStatus('waiting', _('goip-config.status.starting'));
    case 'retrying':
      return nodeStatus('failed', _('goip-config.status.retrying', { reason: shortReason(status.error.message) }));
    case 'waiting-store':
      return nodeStatus('failed', _('goip-config.status.storeDown', { reason: shortReason(status.error.message) }));
    case 'failed':
      return nodeStatus('failed', shortReason(status.error.message));
    case 'listening': {
      const { address, online, lines, storeError, inboxError } = status;
      if (storeError !== undefined) return nodeStatus('failed', _('goip-config.status.storeDown', { reason: shortReason(storeError.message) }));
      if (inboxError !== undefined) return nodeStatus('failed', _('goip-config.status.inboxFailed', { reason: shortReason(inboxError.message) }));
      if (lines === 0) return nodeStatus('waiting', _('goip-config.status.noLines', { port: address.port }));
      return nodeStatus(online > 0 ? 'ok' : 'waiting', _('goip-config.status.listening', { port: address.port, online, lines }));
    }
  }
}

/** The outbox file: the configured path (relative to the user directory), or one named after the node there. */
function storeFile(def: NodeDef, userDir: string | undefined, id: string): string {
  const base = userDir ?? process.cwd();
  const configured = typeof def.store === 'string' ? def.store.trim() : '';
  if (configured === ':memory:') return configured;
  if (configured !== '') return path.resolve(base, configured);
  return path.join(base, `goip-outbox-${id.replace(/[^A-Za-z0-9_-]/g, '_')}.sqlite`);
}

/** Status text stays short: the first clause of the reason (the zh-CN texts use full-width ： and （). */
function shortReason(message: string): string {
  const first = message.split(/[:(：（]/)[0].trim();
  return first.length > 32 ? `${first.slice(0, 31)}…` : first;
}
