/**
 * Routing groups (goip-config `groups`): a recipient goes to the lines of the group with the
 * longest matching E.164 prefix, in that group's number format; `msg.group` pins a group; numbers
 * matching no group use the lines in no group (every line when there are no groups). Pure.
 */
import { MAX_STICKY_DAYS } from '../outbox/types';
import { checkRule, InputError, normalizeNumber, type NumberFormat, type NumberRule } from './numbers';

export interface LineGroup {
  name: string;
  lines: string[];
  /** E.164 prefixes, digits with or without the +. */
  prefixes: string[];
  numberFormat: NumberFormat;
  /** ISO 3166 country for numbers without a country code ('' = the sending node's). */
  country: string;
  /** Its recipients keep to their number's line (null: as the goip-send node says). */
  sticky?: boolean | null;
  /** How long a number keeps to its line (null: as the goip-send node says). */
  stickyDays?: number | null;
}

export const DEFAULT_STICKY_DAYS = 30;
const DAY_MS = 86_400_000;

export interface StickyRule {
  sticky: boolean;
  stickyDays: number;
}

function flag(value: unknown, field: string): boolean | null {
  if (value === undefined || value === null || value === '') return null;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new InputError(`${field} must be true or false, got ${JSON.stringify(value)}`);
}

function days(value: unknown, field: string): number | null {
  if (value === undefined || value === null || value === '') return null;
  const n = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_STICKY_DAYS) throw new InputError(`${field} must be a whole number of days from 1 to ${MAX_STICKY_DAYS}, got ${JSON.stringify(value)}`);
  return n;
}

/** goip-send's `sticky` and `stickyDays`, checked (default off, 30 days). */
export function stickyRule(sticky: unknown, stickyDays: unknown): StickyRule {
  return { sticky: flag(sticky, 'sticky') ?? false, stickyDays: days(stickyDays, 'stickyDays') ?? DEFAULT_STICKY_DAYS };
}

/** How long each recipient of these groups keeps to its number's line: its group's keys win over `rule`; null = not sticky. */
export function stickyWindows(groups: readonly string[], rule: StickyRule, router: GroupRouter): Array<number | null> {
  return groups.map((name) => {
    const group = router.group(name);
    return (group?.sticky ?? rule.sticky) ? (group?.stickyDays ?? rule.stickyDays) * DAY_MS : null;
  });
}

/** The group of recipients matching no group: the lines in no group take them. */
const NO_GROUP = '';

export interface Routed {
  number: string;
  group: string;
}

function digitsOf(prefix: string): string {
  return prefix.trim().replace(/^\+/, '');
}

/** The groups table checked, or an InputError naming the row and the problem. */
export function checkGroups(value: unknown, knownLines: ReadonlySet<string>): LineGroup[] {
  if (value === undefined || value === null || value === '') return [];
  if (!Array.isArray(value)) throw new InputError('the groups are not a list');
  const names = new Set<string>();
  return value.map((row: unknown, index) => {
    const item = (row ?? {}) as Record<string, unknown>;
    const name = typeof item.name === 'string' ? item.name.trim() : '';
    if (name === '') throw new InputError(`group ${index + 1} has no name`);
    if (names.has(name)) throw new InputError(`group "${name}" is there twice`);
    names.add(name);
    const lines = listOf(item.lines);
    for (const line of lines) if (!knownLines.has(line)) throw new InputError(`group "${name}": line "${line}" is not in the lines list`);
    const prefixes = listOf(item.prefixes).map(digitsOf);
    for (const prefix of prefixes) if (!/^\d{1,15}$/.test(prefix)) throw new InputError(`group "${name}": prefix "${prefix}" is not digits`);
    const rule = checkRule({ country: String(item.country ?? ''), format: (String(item.numberFormat ?? '') || 'e164') as NumberFormat });
    return {
      name, lines, prefixes, numberFormat: rule.format, country: rule.country,
      sticky: flag(item.sticky, `group "${name}": sticky`), stickyDays: days(item.stickyDays, `group "${name}": stickyDays`),
    };
  });
}

/** A list from an array or a comma/space separated string. */
function listOf(value: unknown): string[] {
  const items = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(/[,\s]+/) : [];
  return [...new Set(items.map((item) => item.trim()).filter((item) => item !== ''))];
}

export class GroupRouter {
  private readonly byName: ReadonlyMap<string, LineGroup>;

  constructor(readonly groups: readonly LineGroup[] = []) {
    this.byName = new Map(groups.map((group) => [group.name, group]));
  }

  group(name: string): LineGroup | undefined {
    return this.byName.get(name);
  }

  /** The routing groups whose recipients `line` may take; undefined when there are no groups (any). */
  groupsOf(line: string): string[] | undefined {
    if (this.groups.length === 0) return undefined;
    const names = this.groups.filter((group) => group.lines.includes(line)).map((group) => group.name);
    return names.length === 0 ? [NO_GROUP] : names;
  }

  /** The groups some of `lines` may send; undefined when there are no groups. */
  routableGroups(lines: readonly string[]): string[] | undefined {
    if (this.groups.length === 0) return undefined;
    return [...new Set(lines.flatMap((line) => this.groupsOf(line) ?? []))];
  }

  /**
   * The number on the wire and its group. `pinnedGroup` (msg.group) must exist; `pinnedLine`
   * (msg.line) without a group sends in the format of the line's own group.
   */
  route(raw: string, rule: NumberRule, pinnedGroup: string | null, pinnedLine: string | null): Routed {
    if (this.groups.length === 0) return { number: normalizeNumber(raw, rule), group: NO_GROUP };
    const group = pinnedGroup !== null ? this.pinned(pinnedGroup, pinnedLine) : pinnedLine !== null ? this.ofLine(pinnedLine) : this.byPrefix(raw, rule);
    if (group === undefined) return { number: normalizeNumber(raw, rule), group: NO_GROUP };
    const format: NumberRule = { country: group.country === '' ? rule.country : group.country, format: group.numberFormat };
    return { number: normalizeNumber(raw, format), group: group.name };
  }

  private pinned(name: string, line: string | null): LineGroup {
    const group = this.byName.get(name);
    if (group === undefined) throw new InputError(`unknown group "${name}": it is not in the GoIP server's groups`);
    if (line !== null && !group.lines.includes(line)) throw new InputError(`line "${line}" is not in group "${name}"`);
    return group;
  }

  private ofLine(line: string): LineGroup | undefined {
    return this.groups.find((group) => group.lines.includes(line));
  }

  /** The group with the longest prefix of the number's E.164 digits. */
  private byPrefix(raw: string, rule: NumberRule): LineGroup | undefined {
    const digits = digitsOf(normalizeNumber(raw, { country: rule.country, format: 'e164' }));
    let best: { group: LineGroup; length: number } | undefined;
    for (const group of this.groups) {
      for (const prefix of group.prefixes) {
        if (digits.startsWith(prefix) && prefix.length > (best?.length ?? 0)) best = { group, length: prefix.length };
      }
    }
    return best?.group;
  }
}

/**
 * Every recipient routed, duplicates (same wire number) removed, the first kept (`kept`: the
 * index in `raw` of each number); a number no configured line may send is an InputError.
 */
export function routeAll(
  raw: readonly string[],
  rule: NumberRule,
  router: GroupRouter,
  group: unknown,
  line: string | null,
  knownLines: ReadonlySet<string>,
): { numbers: string[]; groups: string[]; kept: number[] } {
  const pinnedGroup = group === undefined || group === null || String(group).trim() === '' ? null : String(group).trim();
  const routable = router.routableGroups([...knownLines]);
  const seen = new Set<string>();
  const numbers: string[] = [];
  const groups: string[] = [];
  const kept: number[] = [];
  raw.forEach((item, index) => {
    const routed = router.route(item, rule, pinnedGroup, line);
    if (seen.has(routed.number)) return;
    if (routable !== undefined && !routable.includes(routed.group)) {
      throw new InputError(routed.group === NO_GROUP ? `"${item}" matches no group and every line is in a group` : `group "${routed.group}" has no line`);
    }
    seen.add(routed.number);
    numbers.push(routed.number);
    groups.push(routed.group);
    kept.push(index);
  });
  return { numbers, groups, kept };
}
