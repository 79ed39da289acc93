/** `values` without the keys whose value is undefined (an option left to its default). */
export function definedOnly<T extends object>(values: Partial<T>): Partial<T> {
  const defined: Partial<T> = {};
  for (const key of Object.keys(values) as Array<keyof T>) {
    const value = values[key];
    if (value !== undefined) defined[key] = value;
  }
  return defined;
}

/** Numeric option sets (timings, limits): defaults overlaid with what the caller gave, checked. */
export function mergeNumericOptions<T extends { [K in keyof T]: number }>(defaults: Readonly<T>, given: Partial<T>, label: string): T {
  const merged = { ...defaults } as T;
  for (const key of Object.keys(defaults) as Array<keyof T>) {
    const value = given[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`${label} option ${String(key)} must be a finite number >= 0, got ${String(value)}`);
    }
    merged[key] = value as T[keyof T];
  }
  return merged;
}
