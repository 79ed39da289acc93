/** The de-duplication window: keys seen live and keys remembered from the store after a restart. */
import assert from 'node:assert/strict';
import { DedupWindow } from '../../src/link/dedup';

describe('DedupWindow', () => {
  it('takes a remembered key as seen until the window passes from the time it was stored', () => {
    const window = new DedupWindow(1000, 10);
    window.remember(7, 5_000);
    assert.equal(window.seenBefore(7, 5_900), true);
    assert.equal(window.seenBefore(8, 5_900), false);
    assert.equal(window.seenBefore(7, 6_000), false, 'stored 1000 ms before: a new report');
  });

  it('keeps the newest keys when more are remembered than it holds', () => {
    const window = new DedupWindow(60_000, 3);
    for (let key = 1; key <= 5; key++) window.remember(key, 1000 + key);
    assert.equal(window.size, 3);
    assert.equal(window.seenBefore(5, 2000), true);
    assert.equal(window.seenBefore(3, 2000), true);
    assert.equal(window.seenBefore(1, 2000), false);
  });
});
