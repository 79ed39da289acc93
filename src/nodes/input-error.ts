/**
 * How every node fails an input: done(err), so a Catch node gets msg.error.message (err.toString())
 * and msg.error.code (err.code, when the error has one).
 */
import type { Done } from './red';

/**
 * `failure` is either the node's own reason, already translated (RED._), or an error of the engine
 * passed on as it is: its English text carries device and line details, and its `code` (goip-command:
 * input, unknownLine, offline, timeout, device, stopped) is public contract.
 */
export function failInput(done: Done, failure: string | Error): void {
  done(typeof failure === 'string' ? new Error(failure) : failure);
}
