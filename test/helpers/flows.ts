/** Flow pieces every node test builds the same way, for the test helper and a real Node-RED alike. */

/** The `devices` credential of goip-config: every line id with `password`. */
export function devicesCredential(ids: readonly string[], password: string): string {
  return JSON.stringify(ids.map((id) => ({ id, password })));
}

/** A goip-config node on 127.0.0.1 with the editor's defaults, `fields` over them. */
export function goipConfigNode(fields: Record<string, unknown>): Record<string, unknown> {
  return { type: 'goip-config', name: 'gw', bind: '127.0.0.1', ackStatus: '0', offlineAfter: 92, dedupWindow: 600, ...fields };
}
