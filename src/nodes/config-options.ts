/** Turns the goip-config node's properties and credentials into server options. Pure. */
import type { DeviceCredential, GoipServerOptions } from '../link';
import type { QueueOptions } from '../gateway/types';
import type { BulkOptions } from '../outbound';
import { parseQuietHours } from '../outbound/lines/policy';
import type { CommandOptions } from '../link/commands';
import { definedOnly } from '../util/options';

/**
 * A refused property or credential, as a goip-config catalog key and its substitutions: the node
 * renders it with RED._(err.key, err.substitutions). The message is the bare key.
 */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    readonly substitutions: Readonly<Record<string, string | number>> = {},
  ) {
    super(key);
  }
}

/**
 * The `devices` credential: a JSON array `[{"id":"goip01","password":"secret"}]`. Errors name the
 * offending entry by position and id, never by password.
 */
export function parseDevices(text: string | undefined): DeviceCredential[] {
  if (text === undefined || text.trim() === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError('goip-config.errors.devicesNotJson');
  }
  if (!Array.isArray(value)) throw new ConfigError('goip-config.errors.devicesNotArray');
  const seen = new Set<string>();
  return value.map((entry: unknown, index) => {
    const item = (entry ?? {}) as { id?: unknown; password?: unknown };
    const id = typeof item.id === 'string' ? item.id.trim() : '';
    if (id === '') throw new ConfigError('goip-config.errors.lineWithoutId', { position: index + 1 });
    if (/[;\s]/.test(id)) throw new ConfigError('goip-config.errors.lineIdCharacters', { id });
    if (seen.has(id)) throw new ConfigError('goip-config.errors.lineIdTwice', { id });
    seen.add(id);
    if (typeof item.password !== 'string') throw new ConfigError('goip-config.errors.lineWithoutPassword', { id });
    return { id, password: item.password };
  });
}

function seconds(value: unknown, fallback: number, min: number): number {
  const n = typeof value === 'string' ? Number(value.trim()) : typeof value === 'number' ? value : Number.NaN;
  if (value === '' || value === undefined || !Number.isFinite(n)) return fallback;
  if (n < min) throw new ConfigError('goip-config.errors.belowMinimum', { value: n, min });
  return n;
}

export interface ConfigProperties {
  bind?: unknown;
  port?: unknown;
  ackStatus?: unknown;
  offlineAfter?: unknown;
  dedupWindow?: unknown;
}

export function serverOptions(props: ConfigProperties, devices: DeviceCredential[]): GoipServerOptions {
  const bind = typeof props.bind === 'string' && props.bind.trim() !== '' ? props.bind.trim() : '0.0.0.0';
  const port = props.port === undefined || props.port === '' ? 44444 : Number(props.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('goip-config.errors.notPort', { value: String(props.port) });
  const ackStatus = props.ackStatus === undefined || props.ackStatus === '' ? '0' : String(props.ackStatus).trim();
  if (!/^\d{1,6}$/.test(ackStatus)) throw new ConfigError('goip-config.errors.ackStatus', { value: ackStatus });
  return {
    bind,
    port,
    devices,
    ackStatus,
    offlineAfterMs: seconds(props.offlineAfter, 92, 0.05) * 1000,
    dedupWindowMs: seconds(props.dedupWindow, 600, 0.05) * 1000,
  };
}

export interface SendingProperties {
  sendInterval?: unknown;
  dailyLimit?: unknown;
  sessionsPerLine?: unknown;
  stepTimeout?: unknown;
  /** Re-ask a result overdue by the line's pace (default); false waits waitRecheckMs instead. */
  earlyReask?: unknown;
}

/** `errorKey` names the field in its catalog text, which takes __value__, __min__ and __max__. */
export function wholeNumber(value: unknown, errorKey: string, min: number, max: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(errorKey, { value: String(value), min, max });
  return n;
}

/** A seconds field the editor may leave empty (undefined: the engine's default applies), in ms. */
export function optionalMs(value: unknown, min: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  return seconds(value, 0, min) * 1000;
}

/** The sending options the editor offers; the engine's defaults cover the rest. */
export function bulkOptions(props: SendingProperties): Partial<BulkOptions> {
  return definedOnly<BulkOptions>({
    minIntervalMs: optionalMs(props.sendInterval, 0),
    stepTimeoutMs: optionalMs(props.stepTimeout, 0.05),
    dailyLimit: wholeNumber(props.dailyLimit, 'goip-config.errors.dailyLimit', 0, 1_000_000),
    sessionsPerLine: wholeNumber(props.sessionsPerLine, 'goip-config.errors.sessionsPerLine', 1, 5),
    overdueFactor: props.earlyReask === false || props.earlyReask === 'false' ? 0 : undefined,
  });
}

export interface CommandProperties {
  /** Seconds per try of a command, default 5. */
  commandTimeout?: unknown;
  /** Resends of a command, default 2. */
  commandRetries?: unknown;
  /** Seconds per try of USSD / USSDEXIT, default 10. */
  ussdTimeout?: unknown;
  /** Resends of USSD, default 1. */
  ussdRetries?: unknown;
}

/** Command timings the goip-config node may carry; empty or absent ones keep the client's defaults. */
export function commandOptions(props: CommandProperties): Partial<CommandOptions> {
  return definedOnly<CommandOptions>({
    commandTimeoutMs: optionalMs(props.commandTimeout, 0.01),
    ussdTimeoutMs: optionalMs(props.ussdTimeout, 0.01),
    commandRetries: wholeNumber(props.commandRetries, 'goip-config.errors.commandRetries', 0, 10),
    ussdRetries: wholeNumber(props.ussdRetries, 'goip-config.errors.ussdRetries', 0, 10),
  });
}

export interface ReceiveProperties {
  /** Join long SMS that arrive part by part, default true. */
  joinParts?: unknown;
  /** Seconds a full part waits for the next one, default 60. */
  joinWindow?: unknown;
}

const MAX_JOIN_WINDOW_S = 3600;

/** How received SMS are joined; a window beyond an hour would hold ordinary 153-character texts for too long. */
export function receiveOptions(props: ReceiveProperties): { joinParts: boolean; joinWindowMs: number } {
  const windowS = seconds(props.joinWindow, 60, 0.05);
  if (windowS > MAX_JOIN_WINDOW_S) throw new ConfigError('goip-config.errors.joinWindow', { value: windowS, max: MAX_JOIN_WINDOW_S });
  return { joinParts: !(props.joinParts === false || props.joinParts === 'false'), joinWindowMs: windowS * 1000 };
}

export interface InboxProperties {
  /** Store received SMS before their ack, default true. */
  inbox?: unknown;
  /** Hours msg.goip.inReplyTo looks back, default 168, 0 = off. */
  replyWindow?: unknown;
}

const DEFAULT_REPLY_WINDOW_H = 168;

/** Whether received messages are stored before their ack, and the reply window. */
export function inboxOptions(props: InboxProperties): { inbox: boolean; replyWindowMs: number } {
  const raw = props.replyWindow;
  const hours = raw === undefined || raw === '' ? DEFAULT_REPLY_WINDOW_H : Number(raw);
  if (!Number.isFinite(hours) || hours < 0) throw new ConfigError('goip-config.errors.replyWindow', { value: String(raw) });
  return { inbox: !(props.inbox === false || props.inbox === 'false'), replyWindowMs: hours * 3600_000 };
}

export interface QueueProperties {
  /** Comma list; absent = the default keywords, empty = none. */
  optOut?: unknown;
  optIn?: unknown;
  /** `HH:MM-HH:MM` local time, empty = none. */
  quietHours?: unknown;
  /** Days (decimals allowed), default 30, 0 = keep everything. */
  retention?: unknown;
}

function keywords(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  return String(value)
    .split(/[,，]/)
    .map((word) => word.trim())
    .filter((word) => word !== '');
}

/** Opt-out keywords and retention for the gateway's queue. */
export function queueOptions(props: QueueProperties): QueueOptions {
  const retention = props.retention === undefined || props.retention === '' ? undefined : Number(props.retention);
  if (retention !== undefined && (!Number.isFinite(retention) || retention < 0)) {
    throw new ConfigError('goip-config.errors.retention', { value: String(props.retention) });
  }
  return definedOnly<QueueOptions>({
    optOut: keywords(props.optOut),
    optIn: keywords(props.optIn),
    retentionMs: retention === undefined ? undefined : retention * 86_400_000,
  });
}

/** Quiet hours as the engine's options. */
export function quietHoursOptions(props: QueueProperties): Partial<BulkOptions> {
  const text = typeof props.quietHours === 'string' ? props.quietHours : '';
  try {
    return parseQuietHours(text);
  } catch {
    throw new ConfigError('goip-config.errors.quietHours', { value: text });
  }
}

export interface DatabaseProperties {
  /** `sqlite` (default) or `postgres`. */
  database?: unknown;
  /** This instance's name in the cluster; empty = the host name. */
  instance?: unknown;
  /** The PostgreSQL schema, default goip. */
  schema?: unknown;
  /** How long lines stay this instance's without a renewal, default 30 s. */
  leaseSeconds?: unknown;
}

/** A shared store's settings; null for the embedded SQLite file. */
export interface SharedStoreSettings {
  instance: string;
  schema: string;
  leaseMs: number;
  /** Empty: the PG* environment variables. */
  connectionString: string;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const LEASE_S = { default: 30, min: 3, max: 3600 };

/** Which store the node keeps its queue and inbox in; null = the SQLite file (`store`). */
export function sharedStoreSettings(props: DatabaseProperties, connectionString: string | undefined, hostName: string): SharedStoreSettings | null {
  const database = String(props.database ?? '').trim() || 'sqlite';
  if (database === 'sqlite') return null;
  if (database !== 'postgres') throw new ConfigError('goip-config.errors.database', { value: database });
  const schema = String(props.schema ?? '').trim() || 'goip';
  if (!SCHEMA_NAME.test(schema)) throw new ConfigError('goip-config.errors.schema', { value: schema });
  const instance = String(props.instance ?? '').trim() || hostName;
  const rawLease = props.leaseSeconds;
  const lease = rawLease === undefined || rawLease === '' ? LEASE_S.default : Number(rawLease);
  if (!Number.isFinite(lease) || lease < LEASE_S.min || lease > LEASE_S.max) {
    throw new ConfigError('goip-config.errors.leaseSeconds', { value: String(rawLease), min: LEASE_S.min, max: LEASE_S.max });
  }
  return { instance, schema, leaseMs: lease * 1000, connectionString: (connectionString ?? '').trim() };
}
