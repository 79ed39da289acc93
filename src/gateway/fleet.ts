/**
 * The fleet around the bulk engine: routing groups, the line policy, the balance and
 * number checks, and what the lines endpoint shows of each line (balance, number, quarantine).
 */
import type { GoipEvent, GoipServer } from '../link';
import type { BulkSender, FleetHooks, LinePolicy } from '../outbound';
import type { CommandClient } from '../link/commands';
import { type CheckSettings, NO_CHECKS } from './check-settings';
import { GroupRouter, type LineGroup } from '../send/routing';
import { FleetChecks, type LineReadings } from './fleet-checks';

export interface FleetOptions {
  groups?: readonly LineGroup[];
  linePolicy?: LinePolicy;
  /** Checks of every line ... */
  checks?: CheckSettings;
  /** ... and of the lines of a group, by group name (the first group of a line that has them wins). */
  groupChecks?: Readonly<Record<string, CheckSettings>>;
  /** Uniform in [0, 1) for the random policy and sendJitter; tests pin it. */
  random?: () => number;
}

/** A line as the lines endpoint adds it to the server's view. */
export interface FleetLineView {
  balance: number | null;
  balanceAt: number | null;
  /** The keepalive's num, else the one a USSD answer told; null unknown. */
  number: string | null;
  quarantine: { reason: string; since: number; until: number; probing: boolean } | null;
}

export interface FleetPorts {
  server: GoipServer;
  commands: CommandClient;
  publish(event: GoipEvent): void;
  warn(err: Error): void;
  /** A line may take numbers again (its balance is enough once more). */
  kick(): void;
}

export class GatewayFleet {
  readonly router: GroupRouter;
  readonly checks: FleetChecks;
  private readonly options: FleetOptions;

  constructor(
    options: FleetOptions,
    private readonly ports: FleetPorts,
  ) {
    this.options = options;
    this.router = new GroupRouter(options.groups ?? []);
    this.checks = new FleetChecks({
      server: ports.server,
      commands: ports.commands,
      settingsOf: (line) => this.settingsOf(line),
      publish: ports.publish,
      released: ports.kick,
      warn: ports.warn,
    });
  }

  /** What the bulk engine asks of the fleet. */
  engineHooks(): Partial<FleetHooks> {
    const lines = (): string[] => this.ports.server.lines().map((info) => info.id);
    return {
      linePolicy: this.options.linePolicy ?? 'spread',
      random: this.options.random ?? Math.random,
      groupsOf: (line) => this.router.groupsOf(line),
      routableGroups: () => this.router.routableGroups(lines()),
      held: (line) => this.checks.held(line),
    };
  }

  /** The engine's quarantine and recovery of lines as gateway events. */
  watch(sender: BulkSender): void {
    for (const event of ['quarantine', 'recovered'] as const) {
      sender.on(event, (payload) => this.ports.publish({ event, line: payload.line, payload, fields: {}, receivedAt: Date.now() }));
    }
  }

  settingsOf(line: string): CheckSettings {
    const own = this.router.groups.find((group) => group.lines.includes(line) && this.options.groupChecks?.[group.name] !== undefined);
    return (own === undefined ? undefined : this.options.groupChecks?.[own.name]) ?? this.options.checks ?? NO_CHECKS;
  }

  lineView(line: string, sender: BulkSender | null): FleetLineView {
    const readings: LineReadings | undefined = this.checks.readings(line);
    const quarantine = sender?.quarantineOf(line) ?? null;
    const keepaliveNum = this.ports.server.line(line)?.num ?? '';
    return {
      balance: readings?.balance ?? null,
      balanceAt: readings?.balanceAt ?? null,
      number: keepaliveNum !== '' ? keepaliveNum : (readings?.number ?? null),
      quarantine: quarantine === null ? null : { ...quarantine, probing: Date.now() >= quarantine.until },
    };
  }
}
