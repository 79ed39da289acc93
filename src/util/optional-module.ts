/**
 * A package of this one's optionalDependencies, loaded on first use by the one feature that needs
 * it: a user who never picks that feature neither loads it nor needs it installed, and one who
 * does but installed without optional packages gets a reason instead of a crash at load.
 */
export function optionalModule<T>(name: string, feature: string): () => T {
  let loaded: T | undefined;
  return () => {
    if (loaded === undefined) {
      try {
        loaded = require(name) as T;
      } catch (err) {
        throw new Error(`${feature} needs the ${name} package, an optional dependency of this package that is not installed here: run npm install ${name} (${(err as Error).message})`);
      }
    }
    return loaded;
  };
}
