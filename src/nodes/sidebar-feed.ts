/**
 * Feeds the editor's GoIP sidebar (plugins/goip-sidebar.html) with one gateway's FleetView over the
 * editor comms: topic `goip/<config-id>/fleet`, retained so an editor opened later gets the latest
 * at once. A burst of events costs one message per PUBLISH_MS; a slow tick refreshes what changes
 * without events (queue counts, the day's counts at midnight). On close the topic says `removed`.
 */
import { FleetView, type GoipGateway } from '../gateway';
import type { NodeAPI } from './red';

const PUBLISH_MS = 250;
const REFRESH_MS = 10_000;

function fleetTopic(configId: string): string {
  return `goip/${configId}/fleet`;
}

export function startSidebarFeed(RED: NodeAPI, configId: string, name: string, gateway: GoipGateway, showTexts: boolean): () => void {
  const view = new FleetView(gateway, { showTexts });
  const topic = fleetTopic(configId);
  let pending: NodeJS.Timeout | null = null;
  let closed = false;
  const publish = (): void => {
    pending = null;
    view.snapshot().then(
      (snapshot) => {
        if (!closed) RED.comms.publish(topic, { id: configId, name, showTexts, ...snapshot }, true);
      },
      () => undefined, // the store is away: the status says so, the next refresh tries again
    );
  };
  const soon = (): void => {
    pending ??= setTimeout(publish, PUBLISH_MS);
  };
  view.on('change', soon);
  gateway.on('status', soon);
  const refresh = setInterval(soon, REFRESH_MS);
  refresh.unref?.();
  soon();
  return () => {
    closed = true;
    if (pending !== null) clearTimeout(pending);
    clearInterval(refresh);
    gateway.off('status', soon);
    view.close();
    RED.comms.publish(topic, { id: configId, removed: true }, false);
  };
}
