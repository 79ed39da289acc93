/** goip-config: owns the GoipServer (one UDP socket) and shares it with the flow nodes. */
import path from 'node:path';
import { SqliteOutbox, SqliteUnavailableError } from '../outbox';
import { type GoipEvent, GoipServer } from '../server';
import { BulkSender } from '../server/bulk';
import { CommandClient } from '../server/commands';
import { StatusReportWatcher } from '../server/status-reports';
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
import { SendingService } from './sending';
import { nodeStatus } from './status';

const WARNING_INTERVAL_MS = 10_000;

export = function register(RED: NodeAPI): void {
  function GoipConfig(this: GoipConfigNode, def: NodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const users = new Set<Node>();
    const listeners = new Set<(event: GoipEvent) => void>();
    let failure: string | null = null;
    let listeningPort: number | null = null;
    const lastWarned = new Map<string, number>();
    /** Repeated network and store troubles are logged once per interval, not per datagram. */
    const warnAtMostEvery = (kind: string, message: string): void => {
      const now = Date.now();
      if (now - (lastWarned.get(kind) ?? 0) < WARNING_INTERVAL_MS) return;
      lastWarned.set(kind, now);
      node.warn(message);
    };
    let sender: BulkSender | null = null;
    let outbox: SqliteOutbox | null = null;
    let statusReports: StatusReportWatcher | null = null;
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
      if (failure !== null) return nodeStatus('failed', failure);
      const server = node.server;
      if (server === null || listeningPort === null) return nodeStatus('waiting', RED._('goip-config.status.starting'));
      const online = server.onlineCount();
      const text = RED._('goip-config.status.listening', { port: listeningPort, online, lines: server.lineCount });
      if (server.lineCount === 0) return nodeStatus('waiting', RED._('goip-config.status.noLines', { port: listeningPort }));
      return nodeStatus(online > 0 ? 'ok' : 'waiting', text);
    };
    node.register = (user) => {
      users.add(user);
      user.status(node.statusText());
    };
    node.deregister = (user) => {
      users.delete(user);
    };
    node.subscribe = (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    };

    try {
      const devices = parseDevices(node.credentials?.devices);
      const server = new GoipServer(serverOptions(def as ConfigProperties, devices));
      const sendingOptions = bulkOptions(def as SendingProperties);
      const commands = new CommandClient(server, commandOptions(def as CommandProperties));
      node.server = server;
      node.commands = commands;
      commands.on('warning', (err) => warnAtMostEvery('commands', RED._('goip-config.warnings.commands', { message: err.message })));
      commands.start();
      server.on('event', (event) => {
        for (const listener of listeners) listener(event);
      });
      server.on('lines', refreshUsers);
      server.on('socketError', (err) => warnAtMostEvery('socket', RED._('goip-config.warnings.socket', { message: err.message })));
      if (devices.length === 0) node.warn(RED._('goip-config.warnings.noLines'));
      try {
        const storePath = storeFile(def, RED.settings.userDir, node.id);
        outbox = SqliteOutbox.open(storePath);
        node.log(RED._('goip-config.log.store', { path: storePath, driver: outbox.driver }));
        sender = new BulkSender(server, outbox, sendingOptions);
        sender.on('warning', (err) => warnAtMostEvery('sending', RED._('goip-config.warnings.sending', { message: err.message })));
        node.sending = new SendingService(outbox, sender, (recipient) =>
          node.warn(
            RED._('goip-config.warnings.resultDropped', { messageId: recipient.messageId, number: recipient.number, state: recipient.state }),
          ),
        );
      } catch (err) {
        const message = (err as Error).message;
        node.sendingError = RED._('goip-config.status.storeFailed', { message });
        node.error(
          err instanceof SqliteUnavailableError
            ? RED._('goip-config.errors.storeDrivers', { message, drivers: err.reasons.join('; ') })
            : RED._('goip-config.errors.store', { message }),
        );
      }
      // Delivery reports decoded from AT sessions (+CMGS / +CDS in the module's traffic), next to
      // the DELIVER reports the BulkSender correlates; without a store their messageId stays null.
      statusReports = new StatusReportWatcher(server, outbox, sender === null ? {} : { windowMs: sender.options.deliveryWindowMs });
      statusReports.on('warning', (err) => warnAtMostEvery('status-reports', RED._('goip-config.warnings.statusReports', { message: err.message })));
      statusReports.start();
      server
        .start()
        .then((address) => {
          listeningPort = address.port;
          node.log(RED._('goip-config.log.listening', { address: address.address, port: address.port, lines: devices.length }));
          sender?.start();
          refreshUsers();
        })
        .catch((err: Error) => {
          failure = shortReason(err.message);
          node.error(RED._('goip-config.errors.notStarted', { message: err.message }));
          refreshUsers();
        });
    } catch (err) {
      const message = err instanceof ConfigError ? RED._(err.key, err.substitutions) : String(err);
      failure = shortReason(message);
      node.error(RED._('goip-config.errors.config', { message }));
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      listeners.clear();
      users.clear();
      const server = node.server;
      node.server = null;
      node.sending = null;
      // Before the socket closes: open AT sessions get their ATSTOP, waiting commands fail 'stopped'.
      const commands = node.commands;
      node.commands = null;
      // Claimed recipients stay claimed in the store: the next start resumes them.
      statusReports?.stop();
      const stopped = Promise.all([commands?.stop(), sender?.stop()]);
      void stopped
        .catch((err: Error) => node.warn(RED._('goip-config.warnings.stopping', { message: err.message })))
        .then(() => {
          outbox?.close();
          if (server === null) return undefined;
          server.removeAllListeners();
          return server.stop();
        })
        .then(done, done);
    });
  }

  RED.nodes.registerType('goip-config', GoipConfig as (this: Node, def: NodeDef) => void, {
    credentials: { devices: { type: 'text' } },
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
      lines: server?.lines() ?? [],
      counters: server?.counters ?? null,
    });
  });
};

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
