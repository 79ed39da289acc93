/**
 * Personalised texts: the text of a batch whose recipients carry `vars` is a logic-less mustache
 * template, rendered without HTML escaping (an SMS is no web page: "A&B" stays "A&B"). Pure.
 */
import Mustache from 'mustache';
import { InputError } from './numbers';

/** `fail`: a variable the template names and a recipient lacks fails that recipient; `empty`: it renders as nothing. */
export type MissingVars = 'fail' | 'empty';

export function missingVars(value: unknown): MissingVars {
  if (value === undefined || value === null || value === '' || value === 'fail') return 'fail';
  if (value === 'empty') return 'empty';
  throw new InputError(`msg.payload.missing must be "fail" or "empty", got ${JSON.stringify(value)}`);
}

type Token = [string, string, number, number, Token[]?, ...unknown[]];

const VARIABLE_TOKENS = new Set(['name', '&', '{']);
const NO_ESCAPE = { escape: (value: unknown): string => String(value) };

export class Template {
  private readonly tokens: Token[];
  /** The variables every recipient must have: those outside sections (a section may bring its own context). */
  readonly required: readonly string[];
  /** The template's own words, without its tags (the encoding guard checks them once for the batch). */
  readonly literal: string;

  constructor(readonly source: string) {
    try {
      this.tokens = Mustache.parse(source) as unknown as Token[];
    } catch (err) {
      throw new InputError(`the text is not a valid template: ${(err as Error).message}`);
    }
    const required: string[] = [];
    const literal: string[] = [];
    const walk = (tokens: Token[], inSection: boolean): void => {
      for (const token of tokens) {
        const [type, value] = token;
        if (type === 'text') literal.push(value);
        else if (VARIABLE_TOKENS.has(type) && !inSection && value !== '.') required.push(value);
        else if (type === '#' || type === '^') walk(token[4] ?? [], inSection || type === '#');
      }
    };
    walk(this.tokens, false);
    this.required = [...new Set(required)];
    this.literal = literal.join('');
  }

  /** The names `vars` lacks (undefined or null at their dotted path). */
  missing(vars: Record<string, unknown>): string[] {
    return this.required.filter((name) => {
      let value: unknown = vars;
      for (const key of name.split('.')) value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
      return value === undefined || value === null;
    });
  }

  render(vars: Record<string, unknown>): string {
    return Mustache.render(this.source, vars, {}, NO_ESCAPE);
  }
}
