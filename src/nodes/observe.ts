/**
 * goip-config's monitoring: the Prometheus metrics of its gateway behind
 * `GET /goip/<config-id>/metrics` (permission goip-config.read) and the feed of the editor's GoIP
 * sidebar. One registry per deployed config node, dropped when it closes.
 */
import { GatewayMetrics, type GoipGateway } from '../gateway';
import type { GoipConfigNode } from './config-node';
import type { NodeAPI, NodeDef } from './red';
import { startSidebarFeed } from './sidebar-feed';

/** Starts the metrics and the sidebar feed of `node`'s gateway; returns what stops both. */
export function observeGateway(RED: NodeAPI, node: GoipConfigNode, gateway: GoipGateway, def: NodeDef): () => void {
  const metrics = new GatewayMetrics(gateway);
  node.metrics = metrics;
  const showTexts = def.sidebarTexts === true || def.sidebarTexts === 'true';
  const stopFeed = startSidebarFeed(RED, node.id, String(def.name ?? ''), gateway, showTexts);
  return () => {
    node.metrics = null;
    metrics.close();
    stopFeed();
  };
}

export function registerMetricsRoute(RED: NodeAPI): void {
  RED.httpAdmin.get('/goip/:id/metrics', RED.auth.needsPermission('goip-config.read'), (req, res) => {
    const node = RED.nodes.getNode(req.params.id) as GoipConfigNode | null;
    const metrics = node?.type === 'goip-config' ? node.metrics : null;
    if (metrics === null || metrics === undefined) {
      res.status(404).json({ error: 'no deployed goip-config node with this id' });
      return;
    }
    metrics.metrics().then(
      (text) => res.set('Content-Type', metrics.contentType).send(text),
      (err: Error) => res.status(500).json({ error: err.message }),
    );
  });
}
