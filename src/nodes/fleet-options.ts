/** goip-config's fleet properties as gateway and engine options. Pure. */
import type { FleetOptions } from '../gateway/fleet';
import { InputError } from '../send/compose';
import { checkGroups } from '../send/routing';
import { type BulkOptions, LINE_POLICIES, type LinePolicy } from '../outbound';
import { type CheckSettings, CheckSettingsError, type CheckSettingsInput, checkSettings } from '../gateway/check-settings';
import { definedOnly } from '../util/options';
import { ConfigError, optionalMs, wholeNumber } from './config-options';

export interface FleetProperties extends CheckSettingsInput {
  /** `[{name, lines, prefixes, numberFormat, country, balanceUssd?, ...}]`, or its JSON text. */
  groups?: unknown;
  linePolicy?: unknown;
  /** Seconds. */
  sendJitter?: unknown;
  hourlyLimit?: unknown;
  /** Seconds, default 300. */
  quarantine?: unknown;
}

/** The pacing and quarantine options of the engine. */
export function fleetBulkOptions(props: FleetProperties): Partial<BulkOptions> {
  return definedOnly<BulkOptions>({
    jitterMs: optionalMs(props.sendJitter, 0),
    hourlyLimit: wholeNumber(props.hourlyLimit, 'goip-config.fleet.errors.hourlyLimit', 0, 1_000_000),
    quarantineMs: optionalMs(props.quarantine, 0.05),
  });
}

/** Groups, line policy and checks; `lines` are the configured line ids (a group names only those). */
export function fleetOptions(props: FleetProperties, lines: readonly string[]): FleetOptions {
  const policy = props.linePolicy === undefined || props.linePolicy === '' ? 'spread' : String(props.linePolicy);
  if (!LINE_POLICIES.includes(policy as LinePolicy)) throw new ConfigError('goip-config.fleet.errors.linePolicy', { value: policy });
  const rows = parseRows(props.groups);
  try {
    const groups = checkGroups(rows, new Set(lines));
    const checks = checkSettings(props);
    const groupChecks: Record<string, CheckSettings> = {};
    for (const row of rows) {
      const item = row as CheckSettingsInput & { name?: unknown };
      if (hasChecks(item)) groupChecks[String(item.name).trim()] = checkSettings(item, checks);
    }
    return { groups, linePolicy: policy as LinePolicy, checks, groupChecks };
  } catch (err) {
    if (err instanceof InputError || err instanceof CheckSettingsError) throw new ConfigError('goip-config.fleet.errors.config', { reason: err.message });
    throw err;
  }
}

function parseRows(value: unknown): unknown[] {
  if (value === undefined || value === null || value === '') return [];
  let rows = value;
  if (typeof value === 'string') {
    try {
      rows = JSON.parse(value);
    } catch {
      throw new ConfigError('goip-config.fleet.errors.config', { reason: 'the groups are not JSON' });
    }
  }
  if (!Array.isArray(rows)) throw new ConfigError('goip-config.fleet.errors.config', { reason: 'the groups are not a list' });
  return rows;
}

const CHECK_KEYS = ['balanceUssd', 'balanceEvery', 'balancePattern', 'lowBalance', 'parkOnLowBalance', 'numberUssd', 'numberPattern'] as const;

function hasChecks(row: CheckSettingsInput): boolean {
  return CHECK_KEYS.some((key) => row[key] !== undefined && row[key] !== '');
}
