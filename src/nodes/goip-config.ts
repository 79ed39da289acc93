/**
 * goip-config: a thin Node-RED adapter over GoipGateway (one UDP socket, the send queue, the
 * commands), shared with the flow nodes: options from the editor, credentials, status, logs and
 * the /goip/:id/lines admin endpoint.
 */
import path from 'node:path';
import { type GatewayStatus, GoipGateway, type WarningSource } from '../gateway';
import { SqliteOutbox, SqliteUnavailableError } from '../outbox';
import {
  bulkOptions,
  type CommandProperties,
  commandOptions,
  ConfigError,
  type ConfigProperties,
  parseDevices,
  type SendingProperties,
  serverOptions,
} from './config-options';
import type { GoipConfigNode } from './config-node';
import type { Node, NodeAPI, NodeDef, NodeStatus } from './red';

type ConfigText =
  | { key: 'starting' }
  | { key: 'listening'; port: number; online: number; lines: number }
  | { key: 'noLinesSet'; port: number }
  | { key: 'retrying'; reason: string }
  | { key: 'warning'; source: WarningSource; message: string }
  | { key: 'resultDropped'; messageId: string; number: string; state: string }
  | { key: 'noLinesConfigured' }
  | { key: 'storeOpened'; file: string; driver: string }
  | { key: 'storeUnavailable'; message: string; reasons: string[] }
  | { key: 'serverListening'; address: string; port: number; lines: number }
  | { key: 'serverNotStarted'; message: string }
  | { key: 'configurationError'; message: string }
  | { key: 'noSuchConfigNode' };

/** Every English text goip-config shows or logs, in one place for translation. */
function english(text: ConfigText): string {
  switch (text.key) {
    case 'starting':
      return 'starting';
    case 'listening':
      return `listening :${text.port} · ${text.online}/${text.lines} lines`;
    case 'noLinesSet':
      return `:${text.port} · no lines set`;
    case 'retrying':
      return `${text.reason} · retrying`;
    case 'warning': {
      const prefix: Record<WarningSource, string> = { socket: 'GoIP socket', commands: 'GoIP commands', sending: 'GoIP sending', 'status-reports': 'GoIP status reports', listener: 'GoIP event listener', stop: 'stopping the send engine' };
      return `${prefix[text.source]}: ${text.message}`;
    }
    case 'resultDropped':
      return `result of ${text.messageId} to ${text.number} (${text.state}) dropped: its goip-send node is not deployed`;
    case 'noLinesConfigured':
      return 'no GoIP lines are configured: every line will be refused';
    case 'storeOpened':
      return `GoIP send queue in ${text.file} (${text.driver})`;
    case 'storeUnavailable':
      return `GoIP outbound queue not available: ${text.message}${text.reasons.length > 0 ? ` (${text.reasons.join('; ')})` : ''}`;
    case 'serverListening':
      return `GoIP SMS server listening on ${text.address}:${text.port} for ${text.lines} line(s)`;
    case 'serverNotStarted':
      return `GoIP server not started: ${text.message}`;
    case 'configurationError':
      return `GoIP configuration error: ${text.message}`;
    case 'noSuchConfigNode':
      return 'no deployed goip-config node with this id';
  }
}

export = function register(RED: NodeAPI): void {
  function GoipConfig(this: GoipConfigNode, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const users = new Set<Node>();
    let configFailure: string | null = null;
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
      if (configFailure !== null) return { fill: 'red', shape: 'ring', text: shortReason(configFailure) };
      return statusView(node.gateway?.status() ?? { state: 'idle' });
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
      const storePath = storeFile(def, RED.settings.userDir, node.id);
      const gateway = new GoipGateway({
        server: serverOptions(def as ConfigProperties, devices),
        sending: bulkOptions(def as SendingProperties),
        commands: commandOptions(def as CommandProperties),
        store: storePath,
      });
      node.gateway = gateway;
      node.server = gateway.server;
      node.commands = gateway.commands;
      node.sending = gateway.sending;
      if (gateway.outbox instanceof SqliteOutbox) node.log(english({ key: 'storeOpened', file: storePath, driver: gateway.outbox.driver }));
      const storeError = gateway.sendingError;
      if (storeError !== null) {
        node.sendingError = `store: ${storeError.message}`;
        const reasons = storeError instanceof SqliteUnavailableError ? storeError.reasons : [];
        node.error(english({ key: 'storeUnavailable', message: storeError.message, reasons }));
      }
      if (devices.length === 0) node.warn(english({ key: 'noLinesConfigured' }));
      let lastBindFailure: string | null = null;
      gateway.on('status', (status) => {
        if (status.state === 'retrying' && status.error.message !== lastBindFailure) {
          lastBindFailure = status.error.message;
          node.error(english({ key: 'serverNotStarted', message: status.error.message }));
        }
        refreshUsers();
      });
      gateway.on('warning', ({ source, error }) => node.warn(english({ key: 'warning', source, message: error.message })));
      gateway.on('resultDropped', (recipient) =>
        node.warn(english({ key: 'resultDropped', messageId: recipient.messageId, number: recipient.number, state: recipient.state })),
      );
      gateway.start().then(
        (address) => {
          if (address !== null) node.log(english({ key: 'serverListening', address: address.address, port: address.port, lines: devices.length }));
        },
        (err: Error) => node.error(english({ key: 'serverNotStarted', message: err.message })),
      );
    } catch (err) {
      const message = err instanceof ConfigError ? err.message : String(err);
      configFailure = message;
      node.error(english({ key: 'configurationError', message }));
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      users.clear();
      const gateway = node.gateway;
      node.gateway = null;
      node.server = null;
      node.sending = null;
      node.commands = null;
      if (gateway === null) return done();
      gateway.removeAllListeners('event');
      gateway.removeAllListeners('status');
      void gateway.stop().then(done, done);
    });
  }

  RED.nodes.registerType('goip-config', GoipConfig as (this: Node, def: NodeDef) => void, {
    credentials: { devices: { type: 'text' } },
  });

  RED.httpAdmin.get('/goip/:id/lines', RED.auth.needsPermission('goip-config.read'), (req, res) => {
    const node = RED.nodes.getNode(req.params.id) as GoipConfigNode | null;
    if (node === null || node.type !== 'goip-config') {
      res.status(404).json({ error: english({ key: 'noSuchConfigNode' }) });
      return;
    }
    const server = node.server;
    res.json({
      listening: server?.address() ?? null,
      status: node.statusText(),
      lines: server?.lines() ?? [],
      counters: server?.counters ?? null,
    });
  });
};

/** The status flow nodes show for the gateway's. */
function statusView(status: GatewayStatus): NodeStatus {
  switch (status.state) {
    case 'idle':
    case 'starting':
      return { fill: 'yellow', shape: 'ring', text: english({ key: 'starting' }) };
    case 'retrying':
      return { fill: 'red', shape: 'ring', text: english({ key: 'retrying', reason: shortReason(status.error.message) }) };
    case 'failed':
      return { fill: 'red', shape: 'ring', text: shortReason(status.error.message) };
    case 'listening': {
      const { address, online, lines } = status;
      if (lines === 0) return { fill: 'yellow', shape: 'ring', text: english({ key: 'noLinesSet', port: address.port }) };
      const text = english({ key: 'listening', port: address.port, online, lines });
      return online > 0 ? { fill: 'green', shape: 'dot', text } : { fill: 'yellow', shape: 'ring', text };
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

/** Status text stays short: the first clause of the reason. */
function shortReason(message: string): string {
  const first = message.split(/[:(]/)[0].trim();
  return first.length > 32 ? `${first.slice(0, 31)}…` : first;
}
