/**
 * GET /goip/<config-id>/inbox?from=&line=&since=&until=&text=&kind=&limit=&before= (permission
 * goip-config.read): a history page of the config's inbox as `{items, next}`, as goip-inbox answers.
 */
import { InboxQueryError } from '../gateway/inbox/inbox-filter';
import { type GoipConfigNode, inboxOf } from './config-node';
import type { NodeAPI } from './red';

export function registerInboxRoute(RED: NodeAPI): void {
  RED.httpAdmin.get('/goip/:id/inbox', RED.auth.needsPermission('goip-config.read'), (req, res) => {
    const node = RED.nodes.getNode(req.params.id) as GoipConfigNode | null;
    if (node === null || node.type !== 'goip-config') {
      res.status(404).json({ error: 'no deployed goip-config node with this id' });
      return;
    }
    const inbox = inboxOf(RED, node);
    if (typeof inbox === 'string') {
      res.status(503).json({ error: inbox, code: 'unavailable' });
      return;
    }
    inbox.query(req.query ?? {}).then(
      (page) => res.json(page),
      (err: Error) => {
        const status = err instanceof InboxQueryError ? 400 : 500;
        res.status(status).json({ error: err.message, code: err instanceof InboxQueryError ? err.code : 'store' });
      },
    );
  });
}
