/**
 * A suite whose runtime, browser or oracle is missing: a notice and a skip on a developer's
 * machine, a failure with the same reason under CI=true (a skipped suite there is a promise not
 * kept: CI installs everything the tests need, through scripts/install-test-deps.sh).
 */
export function skipOrFail(context: Mocha.Context, reason: string): never {
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: a missing test dependency fails the run)`);
  console.log(`\n    ${reason}\n`);
  return context.skip();
}
