import assert from 'node:assert/strict';
import { optionalModule } from '../../src/util/optional-module';

describe('util: optional packages', () => {
  it('loads one on first use, once', () => {
    const load = optionalModule<typeof import('mustache')>('mustache', 'templates');
    assert.equal(load(), load());
    assert.equal(typeof load().render, 'function');
  });

  it('says which feature needs a missing one and how to install it', () => {
    const load = optionalModule('goip-no-such-package', 'encoding transliterate');
    assert.throws(load, /^Error: encoding transliterate needs the goip-no-such-package package, an optional dependency of this package that is not installed here: run npm install goip-no-such-package \(Cannot find module/);
  });
});
