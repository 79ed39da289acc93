/** Timings of server commands. Defaults follow docs/protocol.md#timings: 5 s x 2 resends, USSD 10 s x 1, ATALIVE every 30 s. */
import { mergeNumericOptions } from '../../util/options';

export interface CommandOptions {
  /** A command without an answer is sent again (same datagram, same sendid) after this long. */
  commandTimeoutMs: number;
  /** Resends of a command after the first try. */
  commandRetries: number;
  /** USSD and USSDEXIT wait this long per try (the specification: not below 10 s; the network answers slowly; docs/protocol.md#ussd). */
  ussdTimeoutMs: number;
  ussdRetries: number;
  /** An open AT session is kept alive with ATALIVE this often (the device closes it after 60 s without). */
  atAliveMs: number;
}

export const DEFAULT_COMMAND_OPTIONS: Readonly<CommandOptions> = {
  commandTimeoutMs: 5000,
  commandRetries: 2,
  ussdTimeoutMs: 10_000,
  ussdRetries: 1,
  atAliveMs: 30_000,
};

export function resolveCommandOptions(options: Partial<CommandOptions> = {}): CommandOptions {
  const resolved = mergeNumericOptions<CommandOptions>(DEFAULT_COMMAND_OPTIONS, options, 'command');
  resolved.commandRetries = Math.floor(resolved.commandRetries);
  resolved.ussdRetries = Math.floor(resolved.ussdRetries);
  for (const key of ['commandTimeoutMs', 'ussdTimeoutMs', 'atAliveMs'] as const) resolved[key] = Math.max(1, resolved[key]);
  return resolved;
}
