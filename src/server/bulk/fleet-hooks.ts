/**
 * What the bulk engine asks of the fleet around it: the line policy, the routing
 * groups a line may take recipients of, and lines the fleet holds back (low balance); and what it
 * tells the fleet: a line quarantined or recovered.
 */
import type { LinePolicy } from './line-order';
import type { QuarantineReason } from './policy';

export interface FleetHooks {
  linePolicy: LinePolicy;
  /** Uniform in [0, 1): line choice (random) and sendJitter. Tests pin it. */
  random: () => number;
  /** The routing groups whose recipients `line` may take ('' = no group); undefined = any. */
  groupsOf: (line: string) => readonly string[] | undefined;
  /** The groups with a configured line (queued recipients of any other group fail); undefined = no groups. */
  routableGroups: () => readonly string[] | undefined;
  /** The line takes no new numbers for a reason of the fleet's (parked on low balance). */
  held: (line: string) => boolean;
}

export const DEFAULT_FLEET_HOOKS: Readonly<FleetHooks> = {
  linePolicy: 'spread',
  random: Math.random,
  groupsOf: () => undefined,
  routableGroups: () => undefined,
  held: () => false,
};

/** `quarantine` / `recovered` of a line. */
export interface LineHealthEvent {
  line: string;
  reason: QuarantineReason;
  /** When a quarantine ends (the line is probed then); absent on `recovered`. */
  until?: number;
}
