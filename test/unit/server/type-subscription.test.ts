import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CLUSTER, ENDPOINT, LISTENER } from '../../../src/proto/xds-types';
import { TypeSubscription } from '../../../src/server/type-subscription';

function requestedFor(subscription: TypeSubscription, canonical: string): string[] {
  const into: string[] = [];
  subscription.addRequestedFor(canonical, into);
  return into;
}

describe('TypeSubscription', () => {
  it('indexes names that are their own canonical names without a table of aliases', () => {
    const subscription = new TypeSubscription(CLUSTER);
    assert.equal(subscription.add('app'), 'app');
    assert.equal(subscription.add('app/v1'), 'app/v1');
    assert.equal(subscription.add('app'), undefined, 'already subscribed');
    assert.deepEqual([...subscription.canonicalNames()], ['app', 'app/v1']);
    assert.equal(subscription.canonicalCount, 2);
    assert.ok(subscription.subscribes('app/v1'));
    assert.ok(!subscription.subscribes('other'));
    assert.deepEqual(requestedFor(subscription, 'app'), ['app']);
    assert.deepEqual(requestedFor(subscription, 'other'), []);
    assert.equal(subscription.remove('app'), 'app');
    assert.equal(subscription.remove('app'), undefined, 'no longer subscribed');
    assert.deepEqual([...subscription.canonicalNames()], ['app/v1']);
  });

  it('keeps a canonical name while any alias of it is requested, from the first alias on', () => {
    const subscription = new TypeSubscription(LISTENER);
    assert.equal(subscription.add('app'), 'app');
    assert.equal(subscription.add('other'), 'other');
    assert.equal(subscription.add('app:50051'), undefined, 'app was already subscribed');
    assert.deepEqual(requestedFor(subscription, 'app'), ['app', 'app:50051']);
    assert.deepEqual([...subscription.canonicalNames()], ['app', 'other']);
    assert.equal(subscription.canonicalCount, 2);
    assert.equal(subscription.remove('app'), undefined, 'app:50051 still stands for app');
    assert.ok(subscription.subscribes('app'));
    assert.deepEqual(requestedFor(subscription, 'app'), ['app:50051']);
    assert.equal(subscription.remove('app:50051'), 'app');
    assert.ok(!subscription.subscribes('app'));
    assert.equal(subscription.remove('other'), 'other');
    assert.equal(subscription.canonicalCount, 0);
  });

  it('indexes an alias requested before its canonical name', () => {
    const subscription = new TypeSubscription(LISTENER);
    assert.equal(subscription.add('app:50051'), 'app');
    assert.equal(subscription.add('app'), undefined);
    assert.deepEqual([...subscription.canonicalNames()], ['app']);
    assert.deepEqual(requestedFor(subscription, 'app').sort(), ['app', 'app:50051']);
    assert.ok(!subscription.subscribes('app:50051'), 'indexed by canonical name only');
  });

  it('keeps the sent version string for an ACK of it, and tells a NACK from a later ACK', () => {
    const subscription = new TypeSubscription(CLUSTER);
    subscription.add('app');
    subscription.recordSent({ nonce: 'n1', version: 'v1', at: 1 }, [{ name: 'app', version: 'a' }], [], true);
    subscription.recordNack('n1', 3, 'bad', 2);
    assert.ok(subscription.refusing);
    assert.equal(subscription.lastNack?.rejectedVersion, 'v1');
    subscription.recordAck('v0', 3);
    assert.ok(subscription.refusing, 'an ACK of the same response does not clear the NACK');
    subscription.recordSent({ nonce: 'n2', version: 'v2', at: 4 }, [{ name: 'app', version: 'b' }], [], true);
    const echoed = ['v', '2'].join('');
    subscription.recordAck(echoed, 5);
    assert.ok(!subscription.refusing);
    assert.equal(subscription.ackedVersion, 'v2');
    assert.equal(subscription.ackedAt, 5);
    assert.equal(subscription.lastNonce, 'n2');
    assert.equal(subscription.lastSentAt, 4);
  });

  it('shares the requested names between subscriptions of one type asking the same, copying on change', () => {
    const subscribe = (type = CLUSTER, ...names: string[]): TypeSubscription => {
      const subscription = new TypeSubscription(type);
      for (const name of names) subscription.add(name);
      subscription.shareNames();
      return subscription;
    };
    const a = subscribe(CLUSTER, 'app', 'app/v1');
    const b = subscribe(CLUSTER, 'app/v1', 'app');
    assert.equal(a.names, b.names, 'one map for both');
    assert.notEqual(subscribe(LISTENER, 'app', 'app/v1').names, a.names, 'not across types');
    assert.notEqual(subscribe(CLUSTER, 'app').names, a.names);

    b.add('app/v2');
    assert.deepEqual([...a.names.keys()], ['app', 'app/v1'], 'the other keeps its names');
    assert.deepEqual([...b.names.keys()].sort(), ['app', 'app/v1', 'app/v2']);
    assert.notEqual(a.namesId, b.namesId);
    b.remove('app/v2');
    assert.equal(a.namesId, b.namesId, 'asking the same again');
    a.remove('app');
    assert.deepEqual([...b.names.keys()].sort(), ['app', 'app/v1']);
    assert.ok(!a.subscribes('app'));
    assert.ok(b.subscribes('app'));
  });

  it('shares what is held between subscriptions reaching the same token, copying on change', () => {
    const response = {};
    const hold = (): TypeSubscription => {
      const subscription = new TypeSubscription(CLUSTER);
      subscription.add('app');
      subscription.add('other');
      subscription.recordSent(
        { nonce: 'p1', version: 'v1', at: 1 },
        [{ name: 'app', version: 'a1' }],
        [],
        true,
        { replacedBy: response },
      );
      return subscription;
    };
    const a = hold();
    const b = hold();
    assert.equal(a.heldState, b.heldState);
    assert.equal(a.sent, b.sent, 'one map for both');
    assert.deepEqual([...a.sent], [['app', 'a1']]);

    // Adding a shared response to what each held: still alike, still one map.
    const added = {};
    for (const subscription of [a, b])
      subscription.recordSent(
        { nonce: 'p2', version: 'v2', at: 2 },
        [{ name: 'other', version: 'o1' }],
        [],
        false,
        { extendedBy: added },
      );
    assert.equal(a.sent, b.sent);
    assert.deepEqual([...b.sent].sort(), [
      ['app', 'a1'],
      ['other', 'o1'],
    ]);

    // A response of b's own, then an unsubscribe of a's: neither changes the other.
    b.recordSent({ nonce: '7', version: 'v3', at: 3 }, [{ name: 'app', version: 'a2' }], [], false);
    assert.notEqual(a.heldState, b.heldState);
    assert.deepEqual([...a.sent].sort(), [
      ['app', 'a1'],
      ['other', 'o1'],
    ]);
    assert.deepEqual([...b.sent].sort(), [
      ['app', 'a2'],
      ['other', 'o1'],
    ]);
    a.remove('other');
    assert.deepEqual([...a.sent], [['app', 'a1']]);
    assert.deepEqual([...b.sent].sort(), [
      ['app', 'a2'],
      ['other', 'o1'],
    ]);
    // A later subscription reaching the first token takes its map, as it was then.
    const c = hold();
    assert.deepEqual([...c.sent], [['app', 'a1']]);
  });

  it('keeps no map of what was held alive once no subscription holds it', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const past: WeakRef<object>[] = [];
    (() => {
      // A token kept in the table of content keys, then a chain of pushes extending it.
      const subscription = new TypeSubscription(ENDPOINT);
      subscription.add('app');
      subscription.shareNames();
      const many = Array.from({ length: 1_000 }, (_, i) => ({ name: `n${i}`, version: 'v' }));
      subscription.recordSent({ nonce: '1', version: 'x', at: 0 }, many, [], true, {
        key: `EDS|retained-test|${subscription.namesId}`,
      });
      for (let i = 0; i < 20; i++) {
        subscription.recordSent(
          { nonce: `p${i}`, version: 'x', at: 0 },
          [{ name: 'app', version: `v${i}` }],
          [],
          false,
          {
            extendedBy: {},
          },
        );
        past.push(new WeakRef(subscription.sent));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 10));
    gc();
    gc();
    assert.equal(past.filter((ref) => ref.deref() !== undefined).length, 0);
  });
});
